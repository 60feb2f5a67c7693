// Message type bytes and special request codes of protocol 3.0
// (https://www.postgresql.org/docs/15/protocol-message-formats.html).

export const PROTOCOL_3_0 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Postgres refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH in pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;

const c = (s: string) => s.charCodeAt(0);

/** Frontend (client → server) message types after startup. */
export const F = {
  query: c('Q'),
  parse: c('P'),
  bind: c('B'),
  describe: c('D'),
  execute: c('E'),
  close: c('C'),
  sync: c('S'),
  flush: c('H'),
  terminate: c('X'),
  copyData: c('d'),
  copyDone: c('c'),
  copyFail: c('f'),
  functionCall: c('F'),
  password: c('p'),
} as const;

/** Backend (server → client) message types. */
export const B = {
  authentication: c('R'),
  backendKeyData: c('K'),
  bindComplete: c('2'),
  closeComplete: c('3'),
  commandComplete: c('C'),
  copyData: c('d'),
  copyDone: c('c'),
  copyInResponse: c('G'),
  copyOutResponse: c('H'),
  copyBothResponse: c('W'),
  dataRow: c('D'),
  emptyQueryResponse: c('I'),
  errorResponse: c('E'),
  functionCallResponse: c('V'),
  negotiateProtocolVersion: c('v'),
  noData: c('n'),
  noticeResponse: c('N'),
  notificationResponse: c('A'),
  parameterDescription: c('t'),
  parameterStatus: c('S'),
  parseComplete: c('1'),
  portalSuspended: c('s'),
  readyForQuery: c('Z'),
  rowDescription: c('T'),
} as const;

const FRONTEND_TYPES = new Set<number>(Object.values(F));
export function isFrontendType(t: number): boolean {
  return FRONTEND_TYPES.has(t);
}

/** Authentication request codes inside an 'R' message. */
export const Auth = {
  ok: 0,
  kerberosV5: 2,
  cleartextPassword: 3,
  md5Password: 5,
  gss: 7,
  gssContinue: 8,
  sspi: 9,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;
