import { randomUUID } from 'node:crypto';

/**
 * Tasks of one portal (tasks.task.*). Stored with the UPPER_SNAKE names the methods take; answers
 * are camelCase strings (D:api-reference/tasks/fields.md).
 */
export interface Task {
  ID: number;
  PARENT_ID: number | null;
  TITLE: string;
  DESCRIPTION: string;
  PRIORITY: number;
  /** 2 waiting, 3 in progress, 4 awaiting control, 5 completed, 6 deferred (tasks.task.list REAL_STATUS). */
  STATUS: number;
  GROUP_ID: number;
  CREATED_BY: number;
  RESPONSIBLE_ID: number;
  CHANGED_BY: number;
  CREATED_DATE: number;
  CHANGED_DATE: number;
  CLOSED_DATE: number | null;
  DEADLINE: number | null;
  START_DATE_PLAN: number | null;
  END_DATE_PLAN: number | null;
  ACCOMPLICES: number[];
  AUDITORS: number[];
  TAGS: string[];
  UF_CRM_TASK: string[];
  GUID: string;
  XML_ID: string | null;
}

export class TaskStore {
  readonly tasks = new Map<number, Task>();
  #nextId = 1;

  add(fields: Omit<Task, 'ID' | 'GUID'>): Task {
    const task: Task = { ID: this.#nextId++, GUID: `{${randomUUID()}}`, ...fields };
    this.tasks.set(task.ID, task);
    return task;
  }
}
