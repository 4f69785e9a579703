import type { Emulator } from '../emulator.js';
import type { Portal } from '../portal.js';
import { runRobot } from './run.js';
import type { WorkflowInstance } from './registry.js';

/**
 * Runs a started workflow's robot steps one after another, as the portal's runtime does: a step
 * POSTs to the robot's handler through the queue and, unless the robot is fire-and-forget, waits
 * for bizproc.event.send (or its timeout); then the next step starts. A workflow whose steps are
 * done is completed and, like the core's persister deleting the row from b_bp_workflow_instance,
 * no longer listed by bizproc.workflow.instances.
 *
 * Call it after anything that may close a step (start, event.send, reading with the clock moved).
 * The work runs in the portal's outbox, so `events/flush` waits for it.
 */
export function advanceWorkflow(emulator: Emulator, portal: Portal, instance: WorkflowInstance): void {
  if (instance.state !== 'running') return;
  const template = portal.robots.templates.get(instance.templateId);
  const steps = template?.robots ?? [];
  const nowMs = emulator.clock.nowMs();
  const lastToken = instance.runTokens[instance.step];
  if (lastToken !== undefined) {
    const run = portal.robots.runByToken(lastToken);
    if (!run) return;
    portal.robots.refresh(run, nowMs);
    if (run.state === 'running') return;
    instance.log.push({ atMs: run.finishedAtMs ?? nowMs, message: `Step ${instance.step + 1} (${run.code}) ${run.state}` });
    instance.step += 1;
    instance.modifiedAtMs = nowMs;
  }
  const next = steps[instance.step];
  if (!next) {
    instance.state = 'completed';
    instance.modifiedAtMs = nowMs;
    instance.log.push({ atMs: nowMs, message: 'Workflow completed' });
    return;
  }
  const robot = portal.robots.robots.get(next.code);
  if (!robot || !portal.app) {
    // the activity of an uninstalled robot cannot run: the runtime terminates the workflow
    instance.state = 'terminated';
    instance.modifiedAtMs = nowMs;
    instance.log.push({ atMs: nowMs, message: `Robot ${next.code} is not installed: workflow terminated` });
    return;
  }
  const stepIndex = instance.step;
  instance.runTokens[stepIndex] = '';
  // the call leaves through the queue after the REST answer that started the step, never inside it
  const work = new Promise<void>((resolve) => setImmediate(resolve)).then(() => runRobot(emulator, portal, robot, {
    documentId: instance.documentId,
    properties: next.properties ?? {},
    timeoutSeconds: next.timeoutSeconds ?? 0,
    userId: instance.startedBy,
    workflowId: instance.id,
  })).then((outcome) => {
    instance.runTokens[stepIndex] = outcome.event_token;
    // a fire-and-forget robot is closed once its POST is done; a waiting one closes on event.send
    advanceWorkflow(emulator, portal, instance);
  });
  void portal.events.outbox.track(work);
}
