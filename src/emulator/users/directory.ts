import type { Portal, PortalUser } from '../portal.js';

/**
 * The company structure of a portal: departments (`department.get`,
 * D:api-reference/departments/department-get.md) and the employees in them (`UF_DEPARTMENT` of
 * `user.get`, D:api-reference/user/user-get.md).
 */
export interface PortalDepartment {
  ID: number;
  NAME: string;
  SORT: number;
  /** The parent department; null for the root (the company). */
  PARENT: number | null;
  /** The head of the department (a user ID), if any. */
  UF_HEAD: number | null;
}

/** What every new portal holds: the company with two departments, and four employees. */
export function seedDirectory(portal: Portal): void {
  const departments: PortalDepartment[] = [
    { ID: 1, NAME: 'Company', SORT: 500, PARENT: null, UF_HEAD: 1 },
    { ID: 2, NAME: 'Sales', SORT: 500, PARENT: 1, UF_HEAD: 2 },
    { ID: 3, NAME: 'Support', SORT: 500, PARENT: 1, UF_HEAD: null },
  ];
  for (const department of departments) portal.departments.set(department.ID, department);
  const base = { TIME_ZONE: portal.timeZone, SECOND_NAME: '', PERSONAL_CITY: '', DATE_REGISTER: '2024-01-15T00:00:00+00:00' };
  const users: PortalUser[] = [
    { ...base, ID: 1, NAME: 'Anna', LAST_NAME: 'Admin', EMAIL: 'admin@example.test', ADMIN: true, ACTIVE: true, UF_DEPARTMENT: [1], WORK_POSITION: 'Director' },
    { ...base, ID: 2, NAME: 'Ivan', LAST_NAME: 'User', EMAIL: 'user@example.test', ADMIN: false, ACTIVE: true, UF_DEPARTMENT: [2], WORK_POSITION: 'Sales manager' },
    { ...base, ID: 3, NAME: 'Olga', LAST_NAME: 'Ivanova', EMAIL: 'olga@example.test', ADMIN: false, ACTIVE: true, UF_DEPARTMENT: [3], WORK_POSITION: 'Support engineer' },
    { ...base, ID: 4, NAME: 'Peter', LAST_NAME: 'Former', EMAIL: 'peter@example.test', ADMIN: false, ACTIVE: false, UF_DEPARTMENT: [2], WORK_POSITION: 'Sales manager' },
  ];
  for (const user of users) portal.users.set(user.ID, user);
}
