import type { PortalPlan } from '../portal.js';
import { restErrors } from '../rest-error.js';

/**
 * "You can only start a business process using REST on paid plans, demo licenses, and NFR
 * licenses" (D:api-reference/bizproc/bizproc-workflow-start.md). The emulated plans are free and
 * the paid ones; a demo or NFR portal is any paid plan here. No other bizproc method states a
 * plan rule, so no other is gated.
 */
export function canStartWorkflows(plan: PortalPlan): boolean {
  return plan !== 'free';
}

/**
 * The refusal on a free plan. The core registers bizproc.workflow.* only while the portal has the
 * `bizproc` feature (CORE bizproc/lib/restservice.php `onRestServiceBuildDescription`), so the
 * method is not there at all: 404 ERROR_METHOD_NOT_FOUND.
 */
export function workflowStartRefused(): Error {
  return restErrors.methodNotFound();
}
