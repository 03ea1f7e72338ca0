/*
 * dwn/url: protocol and schema URL normalisation (dwn-reference.md §2.8).
 *
 * dwn-sdk-js normalises a protocol or schema URI with
 *   1. prefix "http://" unless the text matches the regular expression ^[^:]+:(\/{2})?[^\/].*
 *      (something before a first ':', then optionally "//", then a non-'/'),
 *   2. parse with the WHATWG URL parser (new URL), which fails on e.g. an
 *      invalid scheme, an empty or forbidden host or a bad port,
 *   3. drop query and fragment, serialise (href), drop one trailing '/'.
 * Servers only *check* that a value equals its normalisation
 * (UrlProtocolNotNormalized / UrlSchemaNotNormalized); builders normalise.
 *
 * The WHATWG parser is implemented for what step 2 can see: leading/trailing
 * C0-or-space trimming and tab/newline removal; scheme lower-casing; special
 * schemes (http, https, ws, wss, ftp, file) with '\' as '/', any number of
 * slashes before the authority, default ports dropped; userinfo; hosts
 * percent-decoded, lower-cased, forbidden code points refused, IPv4 in all
 * its WHATWG spellings (0x7f.1, 2130706433) and IPv6 re-serialised; opaque
 * hosts of other schemes; paths percent-encoded with the path set and "."/".."
 * (also %2e) segments resolved; opaque paths (mailto:, did:) kept.
 * Not implemented: hosts that need IDNA (non-ASCII, or an "xn--" label),
 * for which dwn_url_normalize answers -ENOTSUP and dwn_url_is_normalized
 * false (the WHATWG result is ASCII punycode, never equal to such input), and
 * Windows drive letters in file: URLs.
 */
#ifndef ANYA_DWN_URL_H
#define ANYA_DWN_URL_H

#include <stdbool.h>
#include <stddef.h>

#define DWN_URL_BYTES_MAX 8192  /* longer inputs are refused (-E2BIG) */

/* Writes the normalised form of in[0..len) into out (NUL-terminated).
 * 0, or -EINVAL where the SDK throws (not a URL), -ENOTSUP (needs IDNA),
 * -E2BIG (input longer than DWN_URL_BYTES_MAX), -ERANGE (out too small:
 * 3 * len + 16 bytes always suffice). */
int dwn_url_normalize(const char *in, size_t len, char *out, size_t out_size);

/* validateProtocolUrlNormalized / validateSchemaUrlNormalized: true when in
 * normalises to exactly itself. */
bool dwn_url_is_normalized(const char *in, size_t len);

#endif
