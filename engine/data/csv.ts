/**
 * Delimited text tables, as in GTSRB's annotation files (semicolon-separated, CRLF line ends,
 * header row). Double-quoted fields (with "" for a literal quote) are accepted for generality.
 */

/** Splits text into rows of fields. Accepts LF, CRLF or CR line ends; drops blank lines. */
export function parseDelimited(text: string, delimiter = ';'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let fieldStarted = false;
  const endRow = () => {
    if (fieldStarted || row.length > 0) {
      row.push(field);
      rows.push(row);
    }
    row = [];
    field = '';
    fieldStarted = false;
  };
  // A byte-order mark would otherwise become part of the first header name.
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = start; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') {
      quoted = true;
      fieldStarted = true;
    } else if (ch === delimiter) {
      row.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\r' || ch === '\n') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRow();
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  endRow();
  return rows;
}

export interface Table {
  header: string[];
  /** One object per data row, keyed by header name. */
  rows: Record<string, string>[];
}

/**
 * Parses a table with a header row, checking that every row has as many fields as the header and
 * that the `required` columns exist. Errors name `source` and the 1-based row number (blank lines
 * are not counted).
 */
export function parseTable(text: string, source: string, options: { delimiter?: string; required?: string[] } = {}): Table {
  let raw: string[][];
  try {
    raw = parseDelimited(text, options.delimiter ?? ';');
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`, { cause: err });
  }
  if (raw.length === 0) throw new Error(`${source}: empty table (no header row)`);
  const header = raw[0]!.map((h) => h.trim());
  for (const col of options.required ?? []) {
    if (!header.includes(col)) throw new Error(`${source}: missing column "${col}" (header: ${header.join(', ')})`);
  }
  const rows: Record<string, string>[] = [];
  for (let r = 1; r < raw.length; r++) {
    const fields = raw[r]!;
    if (fields.length !== header.length) {
      throw new Error(`${source}: row ${r + 1} has ${fields.length} fields, the header has ${header.length}`);
    }
    const obj: Record<string, string> = {};
    header.forEach((h, k) => (obj[h] = fields[k]!));
    rows.push(obj);
  }
  return { header, rows };
}
