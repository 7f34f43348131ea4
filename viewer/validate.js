// Validates GLB files with the Khronos glTF validator: node validate.js FILE.glb ...
// Prints one JSON object: {"FILE": {"numErrors": n, "numWarnings": n, "errors": [first messages]}, ...}
'use strict';
const fs = require('fs');
const validator = require('gltf-validator');

async function main(files) {
  const out = {};
  for (const file of files) {
    const bytes = new Uint8Array(fs.readFileSync(file));
    const report = await validator.validateBytes(bytes, { format: 'glb', maxIssues: 0 });
    const errors = report.issues.messages.filter((m) => m.severity === 0).slice(0, 10)
      .map((m) => `${m.code}: ${m.message} (${m.pointer || ''})`);
    const warnings = report.issues.messages.filter((m) => m.severity === 1).slice(0, 10)
      .map((m) => `${m.code}: ${m.message} (${m.pointer || ''})`);
    out[file] = { numErrors: report.issues.numErrors, numWarnings: report.issues.numWarnings, errors, warnings };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main(process.argv.slice(2)).catch((err) => { console.error(err); process.exit(1); });
