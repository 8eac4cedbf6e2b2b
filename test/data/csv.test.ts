import { describe, expect, it } from 'vitest';
import { parseDelimited, parseTable } from '../../engine/data/csv.js';

describe('delimited tables', () => {
  it('parses GTSRB-style semicolon CSV with CRLF line ends', () => {
    const text =
      'Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\r\n00000_00000.ppm;29;30;5;6;24;25;0\r\n00000_00001.ppm;30;30;5;5;25;25;0\r\n';
    const t = parseTable(text, 'GT-00000.csv', { required: ['Filename', 'ClassId'] });
    expect(t.header).toHaveLength(8);
    expect(t.rows).toHaveLength(2);
    expect(t.rows[1]).toMatchObject({ Filename: '00000_00001.ppm', Width: '30', ClassId: '0' });
  });

  it('handles LF, missing final newline, blank lines, empty fields, quotes and a BOM', () => {
    expect(parseDelimited('\ufeffa;b\n\n1;\n"x;y";"say ""hi"""', ';')).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['x;y', 'say "hi"'],
    ]);
    expect(parseDelimited('a,b\rc,d', ',')).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('reports ragged rows and missing columns with the source', () => {
    expect(() => parseTable('a;b\r\n1;2;3\r\n', 'f.csv')).toThrow(/^f\.csv: row 2 has 3 fields, the header has 2/);
    expect(() => parseTable('Filename;Width\r\n', 'g.csv', { required: ['ClassId'] })).toThrow(/^g\.csv: missing column "ClassId"/);
    expect(() => parseTable('', 'e.csv')).toThrow(/^e\.csv: empty table/);
    expect(() => parseTable('a\n"open', 'q.csv')).toThrow(/^q\.csv: unterminated quoted field/);
  });
});
