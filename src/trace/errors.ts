import { printable } from '../printable.js';

/** Bad trace input or synthetic spec; the message names the file, line and field where there is one. */
export class TraceError extends Error {
  override name = 'TraceError';
}

/** A bad field inside one row; the reader adds the file and line and decides whether to skip. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`field ${printable(field)}: ${message}`);
  }
}
