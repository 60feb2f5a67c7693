// Errors that reach a client carry a real SQLSTATE (https://www.postgresql.org/docs/15/errcodes-appendix.html).
// Named constructors keep the codes in one place, as pgdog's net/ errors do.

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

export class PgError extends Error {
  override name = 'PgError';
  constructor(
    readonly sqlstate: string,
    message: string,
    readonly severity: Severity = 'ERROR',
    readonly detail?: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const SqlState = {
  protocolViolation: '08P01',
  connectionFailure: '08006',
  connectionException: '08000',
  adminShutdown: '57P01',
  queryCanceled: '57014',
  tooManyConnections: '53300',
  featureNotSupported: '0A000',
  internalError: 'XX000',
  invalidAuthorization: '28000',
  syntaxError: '42601',
  cannotConnectNow: '57P03',
  ioError: '58030',
  diskFull: '53100',
} as const;

export const protocolViolation = (message: string, detail?: string) => new PgError(SqlState.protocolViolation, message, 'FATAL', detail);
export const connectionFailure = (message: string, detail?: string) => new PgError(SqlState.connectionFailure, message, 'FATAL', detail);
export const adminShutdown = () => new PgError(SqlState.adminShutdown, 'terminating connection due to administrator command', 'FATAL');
export const tooManyConnections = () => new PgError(SqlState.tooManyConnections, 'sorry, too many clients already', 'FATAL');
export const featureNotSupported = (message: string) => new PgError(SqlState.featureNotSupported, message, 'ERROR');
export const internalError = (message: string) => new PgError(SqlState.internalError, message, 'ERROR');
export const queryCanceled = () => new PgError(SqlState.queryCanceled, 'canceling statement due to user request', 'ERROR');
