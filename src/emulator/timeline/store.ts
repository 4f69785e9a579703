/**
 * The CRM timeline of one portal: comments (crm.timeline.comment.add) and to-do activities
 * (crm.activity.todo.add). Field names are the ones the methods take; dates are stored as ms.
 */

/** A timeline comment (D:api-reference/crm/timeline/comments/crm-timeline-comment-add.md). */
export interface TimelineComment {
  id: number;
  /** `lead`, `deal`, `contact`, `company` (lower case, as sent). */
  entityType: string;
  entityId: number;
  comment: string;
  authorId: number;
  createdAtMs: number;
  /** `[name, base64]` pairs as sent; the emulator keeps no Drive. */
  files: unknown[];
}

/** A universal to-do activity (D:api-reference/crm/timeline/activities/todo/crm-activity-todo-add.md). */
export interface TodoActivity {
  id: number;
  ownerTypeId: number;
  ownerId: number;
  deadlineMs: number;
  title: string;
  description: string;
  responsibleId: number;
  parentActivityId: number | null;
  pingOffsets: number[];
  colorId: string | null;
  authorId: number;
  createdAtMs: number;
}

export class TimelineStore {
  readonly comments = new Map<number, TimelineComment>();
  readonly activities = new Map<number, TodoActivity>();
  #nextCommentId = 1;
  #nextActivityId = 1;

  addComment(fields: Omit<TimelineComment, 'id'>): TimelineComment {
    const comment = { id: this.#nextCommentId++, ...fields };
    this.comments.set(comment.id, comment);
    return comment;
  }

  addActivity(fields: Omit<TodoActivity, 'id'>): TodoActivity {
    const activity = { id: this.#nextActivityId++, ...fields };
    this.activities.set(activity.id, activity);
    return activity;
  }
}
