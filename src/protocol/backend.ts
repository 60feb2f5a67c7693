// Encoders for the backend messages duckgate itself sends (relayed upstream messages are passed on as bytes).
import { B } from './codes.js';
import type { PgError } from './errors.js';
import { Writer } from './writer.js';

export type TransactionStatus = 'I' | 'T' | 'E';

export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typmod: number;
  format: 0 | 1;
}

const w = new Writer(1024);

export function readyForQuery(status: TransactionStatus): Buffer {
  return w.begin(B.readyForQuery).int8(status.charCodeAt(0)).end().flush();
}

export function backendKeyData(pid: number, secret: number): Buffer {
  return w.begin(B.backendKeyData).int32(pid).int32(secret).end().flush();
}

export function parameterStatus(name: string, value: string): Buffer {
  return w.begin(B.parameterStatus).cstring(name).cstring(value).end().flush();
}

export function authenticationOk(): Buffer {
  return w.begin(B.authentication).int32(0).end().flush();
}

export function commandComplete(tag: string): Buffer {
  return w.begin(B.commandComplete).cstring(tag).end().flush();
}

export function emptyQueryResponse(): Buffer {
  return w.begin(B.emptyQueryResponse).end().flush();
}

export function parseComplete(): Buffer {
  return w.begin(B.parseComplete).end().flush();
}

export function bindComplete(): Buffer {
  return w.begin(B.bindComplete).end().flush();
}

export function closeComplete(): Buffer {
  return w.begin(B.closeComplete).end().flush();
}

export function noData(): Buffer {
  return w.begin(B.noData).end().flush();
}

export function portalSuspended(): Buffer {
  return w.begin(B.portalSuspended).end().flush();
}

export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  w.begin(B.rowDescription).uint16(fields.length);
  for (const f of fields) {
    w.cstring(f.name).uint32(f.tableOid).int16(f.columnAttr).uint32(f.typeOid).int16(f.typeSize).int32(f.typmod).int16(f.format);
  }
  return w.end().flush();
}

export function parameterDescription(typeOids: readonly number[]): Buffer {
  w.begin(B.parameterDescription).uint16(typeOids.length);
  for (const o of typeOids) w.uint32(o);
  return w.end().flush();
}

/** A DataRow from already-encoded column values (null = SQL NULL). */
export function dataRow(values: ReadonlyArray<Uint8Array | null>): Buffer {
  w.begin(B.dataRow).uint16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else w.int32(v.length).bytes(v);
  }
  return w.end().flush();
}

/** Error or notice fields (https://www.postgresql.org/docs/15/protocol-error-fields.html). */
function noticeFields(type: number, e: { severity: string; sqlstate: string; message: string; detail?: string; hint?: string }): Buffer {
  w.begin(type);
  w.int8(0x53).cstring(e.severity); // S: localized severity
  w.int8(0x56).cstring(e.severity); // V: non-localized severity
  w.int8(0x43).cstring(e.sqlstate); // C
  w.int8(0x4d).cstring(e.message); // M
  if (e.detail) w.int8(0x44).cstring(e.detail); // D
  if (e.hint) w.int8(0x48).cstring(e.hint); // H
  w.int8(0);
  return w.end().flush();
}

export function errorResponse(e: PgError): Buffer {
  return noticeFields(B.errorResponse, { severity: e.severity, sqlstate: e.sqlstate, message: e.message, detail: e.detail, hint: e.hint });
}

/** An error in the protocol 2.0 format ('E' and one NUL-terminated line), for a client of that protocol. */
export function errorResponseV2(e: PgError): Buffer {
  return Buffer.concat([Buffer.from('E'), Buffer.from(`${e.severity}:  ${e.message}\n\0`, 'utf8')]);
}

export function noticeResponse(n: { severity?: string; sqlstate?: string; message: string; detail?: string }): Buffer {
  return noticeFields(B.noticeResponse, { severity: n.severity ?? 'NOTICE', sqlstate: n.sqlstate ?? '00000', message: n.message, detail: n.detail });
}

/** The single byte a server answers an SSLRequest or GSSENCRequest with. */
export const SSL_ACCEPT = Buffer.from('S');
export const SSL_REFUSE = Buffer.from('N');
