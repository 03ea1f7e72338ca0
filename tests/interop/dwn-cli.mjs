// Messages for tests/interop/dwn-cli.sh, built with dwn-sdk-js 0.5.2: alice
// writes a 100 000-byte record (above the inline limit: its data goes to the
// block engine) and a 20-byte one, then reads both back and queries them.
// Usage: node dwn-cli.mjs NPM_DIR OUT_DIR  (writes *.json messages, *.bin data,
// tenant.txt)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSdk, identity, genData, ts, sdk } from './dwn/harness.mjs';

const [npmDir, out] = process.argv.slice(2);
await loadSdk(npmDir);
const alice = await identity('alice');
const save = (name, value) => writeFileSync(join(out, name), typeof value === 'string' ? value : JSON.stringify(value));
save('tenant.txt', alice.did);
const files = [['big', 100000], ['small', 20]];
for (let i = 0; i < files.length; i++) {
  const [name, size] = files[i];
  const data = genData('dwn-cli-' + name, size);
  const write = await sdk.RecordsWrite.create({
    data, dataFormat: 'application/octet-stream', schema: 'http://example.com/blob', signer: alice.signer,
    messageTimestamp: ts(i + 1), dateCreated: ts(i + 1),
  });
  save(`${name}-write.json`, write.message);
  writeFileSync(join(out, `${name}.bin`), data);
  const read = await sdk.RecordsRead.create({
    filter: { recordId: write.message.recordId }, signer: alice.signer, messageTimestamp: ts(10 + i),
  });
  save(`${name}-read.json`, read.message);
}
const query = await sdk.RecordsQuery.create({
  filter: { schema: 'http://example.com/blob' }, signer: alice.signer, messageTimestamp: ts(20),
});
save('query.json', query.message);
