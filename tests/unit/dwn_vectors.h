/*
 * dwn_vectors: key and DID-document vectors the DWN unit tests share (made
 * by dwn-sdk-js 0.5.2 / @web5/dids 1.2.0 from fixed keys): an Ed25519, a
 * secp256k1 and a P-256 key with their did:key and documents, and an X25519
 * did:key.
 */
#ifndef ANYA_TEST_DWN_VECTORS_H
#define ANYA_TEST_DWN_VECTORS_H

#define ED_PRIVATE_JWK \
  "{\"crv\":\"Ed25519\",\"d\":\"Ip0Ba4EZTVosp2UFEQ_IEsu6ncZTxdWbRYQHlw7MqIs\",\"kty\":\"OKP\"" \
  ",\"x\":\"xm5GunE4RwDAu_HOu9_9VJXf8AfqqCpg8vOG5ZkSdWk\",\"kid\":\"XHlKm7rlIwXhJh_HvaZ_HRZay" \
  "Xc5L1a4GcirebtVzAs\",\"alg\":\"EdDSA\"}"
#define ED_KID \
  "did:key:z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN#z6MksorJGYGmtusxMMEGJ8bRYfgcNapvC" \
  "GTHXqrJME38hfXN"
#define ED_DID "did:key:z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN"
#define ED_DOC \
  "{\"id\":\"did:key:z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN\",\"verificationMethod" \
  "\":[{\"id\":\"did:key:z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN#z6MksorJGYGmtusxMME" \
  "GJ8bRYfgcNapvCGTHXqrJME38hfXN\",\"type\":\"JsonWebKey2020\",\"controller\":\"did:key:z6Mks" \
  "orJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN\",\"publicKeyJwk\":{\"kty\":\"OKP\",\"crv\":\"" \
  "Ed25519\",\"x\":\"xm5GunE4RwDAu_HOu9_9VJXf8AfqqCpg8vOG5ZkSdWk\",\"kid\":\"XHlKm7rlIwXhJh_H" \
  "vaZ_HRZayXc5L1a4GcirebtVzAs\"}}],\"authentication\":[\"did:key:z6MksorJGYGmtusxMMEGJ8bRYfg" \
  "cNapvCGTHXqrJME38hfXN#z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN\"],\"assertionMetho" \
  "d\":[\"did:key:z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN#z6MksorJGYGmtusxMMEGJ8bRYf" \
  "gcNapvCGTHXqrJME38hfXN\"],\"capabilityInvocation\":[\"did:key:z6MksorJGYGmtusxMMEGJ8bRYfgc" \
  "NapvCGTHXqrJME38hfXN#z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN\"],\"capabilityDeleg" \
  "ation\":[\"did:key:z6MksorJGYGmtusxMMEGJ8bRYfgcNapvCGTHXqrJME38hfXN#z6MksorJGYGmtusxMMEGJ8" \
  "bRYfgcNapvCGTHXqrJME38hfXN\"],\"@context\":[\"https://www.w3.org/ns/did/v1\",\"https://w3i" \
  "d.org/security/suites/jws-2020/v1\"]}"
#define K1_DID "did:key:zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq"
#define K1_DOC \
  "{\"id\":\"did:key:zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq\",\"verificationMethod" \
  "\":[{\"id\":\"did:key:zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq#zQ3shVrv8PV12CWWCm" \
  "mTyGU3DTuEobyDyjuYfjNMCBKZR5pbq\",\"type\":\"JsonWebKey2020\",\"controller\":\"did:key:zQ3" \
  "shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq\",\"publicKeyJwk\":{\"kty\":\"EC\",\"crv\":" \
  "\"secp256k1\",\"x\":\"fY7uctGLKFv9zqipxIwnIF_80xum6GH9MCg7Xhty2CA\",\"y\":\"6NrXA8eIsf4xih" \
  "fFTYnYFeDNdUYuyMeiZLSaU9ELhJQ\",\"kid\":\"2hkFrJapbXVVjrK0EsKfI2uPgRfYltYV4LBKS-ebbYE\"}}]" \
  ",\"authentication\":[\"did:key:zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq#zQ3shVrv8" \
  "PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq\"],\"assertionMethod\":[\"did:key:zQ3shVrv8PV12CW" \
  "WCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq#zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq\"],\"" \
  "capabilityInvocation\":[\"did:key:zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq#zQ3shV" \
  "rv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq\"],\"capabilityDelegation\":[\"did:key:zQ3shVr" \
  "v8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5pbq#zQ3shVrv8PV12CWWCmmTyGU3DTuEobyDyjuYfjNMCBKZR5p" \
  "bq\"],\"@context\":[\"https://www.w3.org/ns/did/v1\",\"https://w3id.org/security/suites/jw" \
  "s-2020/v1\"]}"
#define P256_PRIVATE_JWK \
  "{\"alg\":\"ES256\",\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"IGYAADW2R7162WFMG9Lunozd58iB9w" \
  "d9_Au8xfwLbq0\",\"y\":\"hrWbaHI3GrQb4gUAq9FScfQSVAM5l551jT5sShsQtBY\",\"d\":\"SUrhUX2w7SkS" \
  "guee_rnduT5UOj7v_BGgfYHVEzifTf8\"}"
#define P256_DID \
  "did:jwk:eyJhbGciOiJFUzI1NiIsImt0eSI6IkVDIiwiY3J2IjoiUC0yNTYiLCJ4IjoiSUdZQUFEVzJSNzE2MldGTU" \
  "c5THVub3pkNThpQjl3ZDlfQXU4eGZ3TGJxMCIsInkiOiJocldiYUhJM0dyUWI0Z1VBcTlGU2NmUVNWQU01bDU1MWpU" \
  "NXNTaHNRdEJZIn0"
#define X25519_DID "did:key:z6LSeV8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp"
#define X25519_DOC \
  "{\"id\":\"did:key:z6LSeV8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp\",\"verificationMethod" \
  "\":[{\"id\":\"did:key:z6LSeV8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp#z6LSeV8ug7Nzvj2cUF5" \
  "rwLxAkCFiAHEthXhNLbnVSA225fjp\",\"type\":\"JsonWebKey2020\",\"controller\":\"did:key:z6LSe" \
  "V8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp\",\"publicKeyJwk\":{\"kty\":\"OKP\",\"crv\":\"" \
  "X25519\",\"x\":\"Kb8e-lkz2faQo7FxhWXOqfNqaFTTyEJHyXmEjP5CZRs\",\"kid\":\"2mZMdKbb67-z5CyRS" \
  "NSzwSpybpGTEd1MQCnHaqv86zs\"}}],\"authentication\":[\"did:key:z6LSeV8ug7Nzvj2cUF5rwLxAkCFi" \
  "AHEthXhNLbnVSA225fjp#z6LSeV8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp\"],\"assertionMethod" \
  "\":[\"did:key:z6LSeV8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp#z6LSeV8ug7Nzvj2cUF5rwLxAkCF" \
  "iAHEthXhNLbnVSA225fjp\"],\"capabilityInvocation\":[\"did:key:z6LSeV8ug7Nzvj2cUF5rwLxAkCFiA" \
  "HEthXhNLbnVSA225fjp#z6LSeV8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp\"],\"capabilityDelega" \
  "tion\":[\"did:key:z6LSeV8ug7Nzvj2cUF5rwLxAkCFiAHEthXhNLbnVSA225fjp#z6LSeV8ug7Nzvj2cUF5rwLx" \
  "AkCFiAHEthXhNLbnVSA225fjp\"],\"@context\":[\"https://www.w3.org/ns/did/v1\",\"https://w3id" \
  ".org/security/suites/jws-2020/v1\"]}"
#define P256_DID_KEY "did:key:zDnaeScSJTcNUKLsKAQsbUMQByqitk4ERKvyBsh86R5AJgs4p"
#define K1_PRIVATE_JWK \
  "{\"kty\":\"EC\",\"crv\":\"secp256k1\",\"d\":\"eLyTW-UG2vKxM-thEqAb9yLemvKWgollozY5dr0IRqU" \
  "\",\"x\":\"fY7uctGLKFv9zqipxIwnIF_80xum6GH9MCg7Xhty2CA\",\"y\":\"6NrXA8eIsf4xihfFTYnYFeDNd" \
  "UYuyMeiZLSaU9ELhJQ\",\"kid\":\"2hkFrJapbXVVjrK0EsKfI2uPgRfYltYV4LBKS-ebbYE\",\"alg\":\"ES2" \
  "56K\"}"

#endif
