// Renders the program's TypeScript client from its Anchor IDL with Codama:
//   node codama.mjs <idl.json> <output dir>
// scripts/gen-client runs it (and, with --check, fails when the checked-in
// client differs from what the IDL gives).
import { readFileSync } from 'node:fs';
import { createFromRoot } from 'codama';
import { rootNodeFromAnchor } from '@codama/nodes-from-anchor';
import { renderVisitor } from '@codama/renderers-js';

const [idlPath, outDir] = process.argv.slice(2);
if (!idlPath || !outDir) {
  console.error('usage: node codama.mjs <idl.json> <output dir>');
  process.exit(2);
}
const idl = JSON.parse(readFileSync(idlPath, 'utf8'));
const codama = createFromRoot(rootNodeFromAnchor(idl));
// Unformatted: the output is then the same on every machine (no prettier
// configuration to resolve).
await codama.accept(renderVisitor(outDir, { deleteFolderBeforeRendering: true, formatCode: false }));
