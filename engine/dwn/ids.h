/*
 * dwn/ids: the identifiers of DWN messages and record data, as dwn-sdk-js
 * 0.5.2 computes them (dwn-reference.md §3).
 *
 *   computeCid(x)   CIDv1, codec dag-cbor (0x71), sha2-256 of dagcbor_encode(x);
 *                   text in base32 lower, always "bafyrei..." (59 characters)
 *   descriptorCid   computeCid(message.descriptor)
 *   messageCid      computeCid(message without the top-level `encodedData` and
 *                   `initialWrite` that replies and the store decorate it with)
 *   entryId         computeCid({...descriptor, author}): a RecordsWrite's
 *                   descriptor with one more top-level key `author` (the logical
 *                   author DID); equal to recordId exactly on the initial write
 *   dataCid         the UnixFS root of the data as ipfs-unixfs-importer 15.1.5
 *                   with {cidVersion: 1} makes it (= `anya add --cid-version 1`):
 *                   raw leaves, 262144-byte chunks, balanced, 174 links a node;
 *                   data of at most one chunk (empty included) is its own raw
 *                   leaf ("bafkrei..."), larger data a dag-pb root ("bafybei...")
 *
 * The JSON is never modified (the omitted and added members are edits applied
 * while encoding, dagcbor.h).  Numbers follow dagcbor.h: 1.0 hashes as 1.
 * Parse message JSON with jansson's JSON_DECODE_INT_AS_REAL: every number then
 * becomes the double JSON.parse makes of it (without the flag the result is
 * the same, except that integers beyond json_int_t fail to parse).
 *
 * dataCid runs the engine's importer (importer.h), so the blocks it makes can
 * go straight into the block engine through a block_sink_t while the CID is
 * computed (sink NULL: the blocks are discarded).  Memory is bounded by the
 * importer (one open tree edge and its chunk ring), whatever the data size.
 *
 * Errors: 0 or a negative errno with err_set (the encoder's -EINVAL, -E2BIG,
 * -ELOOP, -ENOMEM; -EINVAL for a message without an object `descriptor`; the
 * importer's and the sink's errors for dataCid).  These are internal errors;
 * mapping them to a DWN status (dwn/status.h) is the handler's job.
 */
#ifndef ANYA_DWN_IDS_H
#define ANYA_DWN_IDS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "block.h"
#include "cid.h"

#define DWN_CID_TEXT_BYTES 60  /* "bafyrei..." dag-cbor CID: 59 characters + NUL */
#define DWN_DATA_CID_TEXT_BYTES 60 /* "bafkrei..." / "bafybei...": 59 characters + NUL */
#define DWN_DATA_CHUNK_BYTES 262144u /* importer chunk size for record data */
#define DWN_DATA_LINKS_MAX 174u      /* links a dag-pb node of record data */

/* computeCid: *out = CIDv1 dag-cbor sha2-256 of v's canonical dag-cbor. */
int dwn_compute_cid(const json_t *v, cid_t *out);

/* The same, as its base32 text (NUL-terminated) in out. */
int dwn_compute_cid_text(const json_t *v, char out[DWN_CID_TEXT_BYTES]);

/* descriptorCid of a message: computeCid(message.descriptor); -EINVAL when
 * message is not an object or has no object `descriptor`. */
int dwn_descriptor_cid(const json_t *message, cid_t *out);

/* messageCid: computeCid(message minus top-level `encodedData` and
 * `initialWrite`); -EINVAL when message is not an object. */
int dwn_message_cid(const json_t *message, cid_t *out);

/* messageCid exactly as dwn-sdk-js 0.5.2's Message.getCid computes it, which
 * the reference message store uses as the key (MessageStoreLevel.put hashes
 * the message as stored, `encodedData` included): `encodedData` is dropped only
 * when JavaScript finds it truthy, so the empty-data write stored with
 * `encodedData: ""` keeps it in its CID, and `initialWrite` is kept.  Equal
 * to dwn_message_cid for every message without those two members. */
int dwn_message_cid_sdk(const json_t *message, cid_t *out);

/* entryId of a RecordsWrite: computeCid(descriptor + {"author": author}),
 * author being the logical author's DID (NUL-terminated UTF-8).  -EINVAL when
 * descriptor is not an object. */
int dwn_entry_id(const json_t *descriptor, const char *author, cid_t *out);

/* Text form of any of these CIDs (base32, "b..."); -EINVAL if it does not fit. */
int dwn_cid_text(const cid_t *cid, char out[DWN_CID_TEXT_BYTES]);

/* Parses text as a message CID (what MessagesRead accepts: CIDv1, dag-cbor,
 * sha2-256, any multibase).  0 or -EINVAL. */
int dwn_message_cid_parse(const char *text, cid_t *out);

/* dataCid of data[0..len): *out the root CID; blocks go to sink (may be NULL).
 * Data of one chunk or less is hashed in place; larger data is copied into an
 * anonymous memory file (memfd) the importer reads.  0, -ENOMEM, the sink's
 * error, the importer's. */
int dwn_data_cid_mem(const void *data, size_t len, const block_sink_t *sink, cid_t *out);

/* dataCid of everything readable from fd, from its current offset to end of
 * file (a pipe or socket until the writer closes it; the fd's offset may move).  *size_bytes (may be NULL) gets the byte count, i.e. the
 * record's dataSize.  Blocks go to sink (may be NULL).  0, read errors
 * (-EIO...), -ENOMEM, the sink's error. */
int dwn_data_cid_fd(int fd, const block_sink_t *sink, cid_t *out, uint64_t *size_bytes);

#endif
