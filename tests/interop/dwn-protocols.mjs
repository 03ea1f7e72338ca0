// Messages for tests/interop/dwn-protocols.sh, signed by dwn-sdk-js 0.5.2 with
// the tenant's key from `anya dwn key new`: record writes for the installed
// Anya protocols (valid and invalid data for each type), flat records naming
// a registered and an unregistered schema, a large transaction whose data
// goes to the block engine, and Protocols.Query (signed and anonymous).
// The packaged definitions are also handed to ProtocolsConfigure.create,
// which validates them against the SDK's ProtocolDefinition schema and
// protocol structure rules (it throws on a bad definition).
// The oracle: an SDK Dwn (LevelDB stores under OUT_DIR) is given the same
// definitions and writes; its status codes go to sdk-codes.json, so the
// driver can check that Anya differs from the SDK only where it answers
// AnyaDataSchemaInvalid (the SDK does not look at record data).
// Usage: node dwn-protocols.mjs NPM_DIR OUT_DIR PACKAGING_DIR KEY_FILE DID
// Writes NAME.json (message) and NAME.data (record data) per message.
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadSdk, ts, sdk, resolver } from './dwn/harness.mjs';

const [npmDir, out, packaging, keyFile, did] = process.argv.slice(2);
await loadSdk(npmDir);
const privateJwk = JSON.parse(readFileSync(keyFile, 'utf8'));
const kid = did + '#' + did.slice('did:key:'.length);
const signer = new sdk.PrivateKeySigner({ privateJwk, keyId: kid, algorithm: 'EdDSA' });
const save = (name, value) => writeFileSync(join(out, name), typeof value === 'string' ? value : JSON.stringify(value));

const RGB = 'https://anya.io/protocols/rgb-asset';
const BTC = 'https://anya.io/protocols/bitcoin-transaction';
const sdkMessages = []; // [name, message, data bytes or undefined], in order
for (const name of ['rgb-asset', 'bitcoin-transaction']) {
  const definition = JSON.parse(readFileSync(join(packaging, name + '.json'), 'utf8'));
  const configure = await sdk.ProtocolsConfigure.create({ definition, signer, messageTimestamp: ts(0) });
  sdkMessages.push(['configure-' + name, configure.message, undefined]);
}

let clock = 1;
async function write(name, options, data) {
  const bytes = Buffer.from(typeof data === 'string' ? data : JSON.stringify(data), 'utf8');
  const t = ts(clock++);
  const w = await sdk.RecordsWrite.create({
    dataFormat: 'application/json', data: bytes, signer, messageTimestamp: t, dateCreated: t, ...options,
  });
  save(name + '.json', w.message);
  writeFileSync(join(out, name + '.data'), bytes);
  sdkMessages.push([name, w.message, bytes]);
  return w.message;
}

const hex = (n, seed) => Buffer.alloc(n, seed).toString('hex');
const asset = { ticker: 'ANYA', name: 'Anya test asset', precision: 8, supply: '2100000000000000' };
const assetWrite = await write('asset-valid', { protocol: RGB, protocolPath: 'asset', schema: 'https://anya.io/schemas/rgb-asset/asset' }, asset);
await write('asset-invalid', { protocol: RGB, protocolPath: 'asset', schema: 'https://anya.io/schemas/rgb-asset/asset' },
  { ...asset, ticker: 'anya' });
const transferOptions = {
  protocol: RGB, protocolPath: 'asset/transfer', schema: 'https://anya.io/schemas/rgb-asset/transfer',
  parentContextId: assetWrite.contextId,
};
const transfer = { asset: assetWrite.recordId, amount: '1500', recipient: did, memo: 'first' };
await write('transfer-valid', transferOptions, transfer);
await write('transfer-invalid', transferOptions, { ...transfer, amount: '-3' });
const txOptions = { protocol: BTC, protocolPath: 'transaction', schema: 'https://anya.io/schemas/bitcoin-transaction/transaction' };
const tx = { txid: hex(32, 7), hex: hex(120, 1), network: 'regtest', fee: 141, outputs: [{ value: 5000, scriptPubKey: '0014' + hex(20, 2) }] };
await write('tx-valid', txOptions, tx);
await write('tx-invalid', txOptions, { ...tx, outputs: [{ value: 5000, scriptPubKey: '0014' + hex(20, 2) }, { value: 1.5, scriptPubKey: '' }] });
// above the 30000-byte inline limit: the data is checked in the block engine
await write('tx-big-valid', txOptions, { ...tx, hex: hex(40000, 3) });
await write('tx-big-invalid', txOptions, { ...tx, hex: hex(40000, 3) + 'zz' });
const blockOptions = { protocol: BTC, protocolPath: 'block', schema: 'https://anya.io/schemas/bitcoin-transaction/block' };
const block = { hash: hex(32, 9), height: 840000, previousBlockHash: hex(32, 8), time: 1713571767, txCount: 1, txids: [hex(32, 7)] };
await write('block-valid', blockOptions, block);
await write('block-invalid', blockOptions, { ...block, height: -1 });
// flat records: the registered schema is checked, an unregistered one is not (as the SDK)
const badAsset = { ...asset, ticker: 'anya' };
await write('flat-registered-invalid', { schema: 'https://anya.io/schemas/rgb-asset/asset' }, badAsset);
await write('flat-unregistered-invalid', { schema: 'https://example.com/schemas/unregistered' }, badAsset);
await write('flat-registered-text', { schema: 'https://anya.io/schemas/rgb-asset/asset', dataFormat: 'text/plain' }, 'not JSON');
await write('flat-registered-notjson', { schema: 'https://anya.io/schemas/rgb-asset/asset' }, '{"ticker":');

const query = await sdk.ProtocolsQuery.create({ signer, messageTimestamp: ts(clock++) });
save('protocols-query.json', query.message);
const anonymous = await sdk.ProtocolsQuery.create({ filter: { protocol: RGB }, messageTimestamp: ts(clock++) });
save('protocols-query-anonymous.json', anonymous.message);
const records = await sdk.RecordsQuery.create({ filter: { protocol: RGB }, signer, messageTimestamp: ts(clock++) });
save('records-query.json', records.message);
sdkMessages.push(['protocols-query', query.message, undefined], ['protocols-query-anonymous', anonymous.message, undefined]);

// the oracle
const dir = join(out, 'sdk-dwn');
const messageStore = new sdk.MessageStoreLevel({ blockstoreLocation: join(dir, 'MESSAGESTORE'), indexLocation: join(dir, 'INDEX') });
const dataStore = new sdk.DataStoreLevel({ blockstoreLocation: join(dir, 'DATASTORE') });
const eventLog = new sdk.EventLogLevel({ location: join(dir, 'EVENTLOG') });
const resumableTaskStore = new sdk.ResumableTaskStoreLevel({ location: join(dir, 'RESUMABLE-TASK-STORE') });
const dwn = await sdk.Dwn.create({ didResolver: resolver(), messageStore, dataStore, eventLog, resumableTaskStore });
const codes = {};
for (const [name, message, bytes] of sdkMessages) {
  const options = bytes ? { dataStream: sdk.DataStream.fromBytes(bytes) } : {};
  const reply = await dwn.processMessage(did, JSON.parse(JSON.stringify(message)), options);
  codes[name] = reply.status.code;
  if (name.startsWith('protocols-query')) codes[name + '-entries'] = reply.entries?.length ?? 0;
}
await dwn.close();
rmSync(dir, { recursive: true, force: true });
save('sdk-codes.json', codes);
