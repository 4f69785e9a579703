import type { FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';

/** One field at fault in a 400 "Invalid Resource" answer. */
export interface FieldError {
  field: string;
  message: string;
}

/**
 * An error in the Marketing API's problem+json shape: `type`, `title`, `status`, `detail`,
 * `instance` (https://mailchimp.com/developer/marketing/docs/errors/).
 */
export class MailchimpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(`${status} ${title}: ${detail}`);
  }

  toBody(): Record<string, unknown> {
    return {
      type: 'https://mailchimp.com/developer/marketing/docs/errors/',
      title: this.title,
      status: this.status,
      detail: this.detail,
      instance: randomUUID(),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** The problems the emulator answers with; titles from the error glossary of the page above. */
export const problems = {
  invalidResource: (detail: string, errors?: FieldError[]) => new MailchimpProblem(400, 'Invalid Resource', detail, errors),
  jsonParse: () => new MailchimpProblem(400, 'JSON Parse Error', "We encountered an unspecified JSON parsing error."),
  memberExists: (email: string) => new MailchimpProblem(400, 'Member Exists', `${email} is already a list member. Use PUT to insert or update list members.`),
  apiKeyMissing: () => new MailchimpProblem(401, 'API Key Missing', 'Your request did not include an API key.'),
  apiKeyInvalid: () => new MailchimpProblem(401, 'API Key Invalid', "Your API key may be invalid, or you've attempted to access the wrong datacenter."),
  notFound: () => new MailchimpProblem(404, 'Resource Not Found', 'The requested resource could not be found.'),
  methodNotAllowed: () => new MailchimpProblem(405, 'Method Not Allowed', "The requested method and resource are not compatible. See the Allow header for this resource's available methods."),
  tooManyRequests: () => new MailchimpProblem(429, 'Too Many Requests', 'You have exceeded the limit of 10 simultaneous connections.'),
  internal: () => new MailchimpProblem(500, 'Internal Server Error', 'An unexpected internal error has occurred. Please contact Support for more information.'),
  injected: (status: number) => new MailchimpProblem(status, status === 429 ? 'Too Many Requests' : status === 503 ? 'Service Unavailable' : 'Internal Server Error', 'Injected fault'),
};

export function sendProblem(reply: FastifyReply, problem: MailchimpProblem): FastifyReply {
  return reply.status(problem.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(problem.toBody()));
}
