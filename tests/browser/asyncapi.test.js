// The event contract (gateway/asyncapi.json) parsed and validated by the AsyncAPI
// initiative's own parser (@asyncapi/parser, npm registry): a document that other tools
// (code generators, catalogues) would refuse fails here. Warnings are printed, errors fail.
const fs = require('fs');
const path = require('path');

(async () => {
  const { Parser } = await import('@asyncapi/parser');
  const file = process.argv[2] || path.join(__dirname, '..', '..', 'gateway', 'asyncapi.json');
  const { document, diagnostics } = await new Parser().parse(fs.readFileSync(file, 'utf8'));
  const errors = diagnostics.filter((d) => d.severity === 0);
  for (const d of diagnostics)
    console.log(d.severity === 0 ? 'ERROR' : 'note', d.code, d.message, JSON.stringify(d.path));
  if (!document || errors.length) {
    console.log(`FAIL: ${file} is not a valid AsyncAPI document (${errors.length} errors)`);
    process.exit(1);
  }
  const channels = document.channels().all().map((c) => c.address());
  const messages = document.messages().all().length;
  console.log(`OK: AsyncAPI ${document.version()}, ${channels.length} channels, ${messages} messages`);
  if (channels.length < 14) {
    console.log('FAIL: expected every saga topic and the dead-letter topic as channels');
    process.exit(1);
  }
})().catch((e) => { console.error(e); process.exit(1); });
