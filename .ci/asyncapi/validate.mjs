// Validates AsyncAPI documents with the AsyncAPI project's own parser (@asyncapi/parser).
//
//   node .ci/asyncapi/validate.mjs FILE...
//
// Prints every diagnostic; exits 1 when a document has an error. Before the files, it checks
// that the parser refuses a broken document, so a pass means the parser did look.
import { readFile } from 'node:fs/promises';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';

const parser = new Parser();
const severity = ['error', 'warning', 'information', 'hint'];

async function parse(text) {
  const { document, diagnostics } = await parser.parse(text);
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  return { document, diagnostics, errors };
}

const broken = await parse(JSON.stringify({
  asyncapi: '3.0.0',
  info: { title: 'broken', version: '1.0.0' },
  channels: { orders: { address: 42, messages: { m: { payload: { type: 'no-such-type' } } } } },
}));
if (broken.errors.length === 0) {
  console.error('the parser accepted a broken document: it checks nothing');
  process.exit(2);
}

let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics, errors } = await parse(await readFile(file, 'utf8'));
  for (const d of diagnostics) {
    console.log(`${file}: ${severity[d.severity]}: ${d.message} (at /${d.path.join('/')})`);
  }
  if (errors.length > 0 || !document) {
    failed = true;
    console.log(`${file}: INVALID, ${errors.length} error(s)`);
  } else {
    console.log(`${file}: valid AsyncAPI ${document.version()}: ` +
      `${document.channels().length} channels, ${document.operations().length} operations, ` +
      `${document.messages().length} messages`);
  }
}
process.exit(failed ? 1 : 0);
