/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>

#include "fst-der.h"
#include "fst-device-info.h"

G_BEGIN_DECLS

/* a device CSR is well under 2 KiB even for RSA-4096 */
#define FST_CSR_MAX_SIZE (16 * 1024)

/**
 * FstCsrKey:
 * @key_type: the key's type, or %FST_KEY_TYPE_NONE
 * @pkey: (owned): the public key
 * @spki: (owned): its canonical SubjectPublicKeyInfo, re-encoded
 * @key_id: SHA-1 of the subjectPublicKey bits (RFC 5280 method 1)
 *
 * A device public key, decoded from its SubjectPublicKeyInfo.
 */
typedef struct {
	FstKeyType key_type;
	EVP_PKEY *pkey;
	GByteArray *spki;
	guint8 key_id[20];
} FstCsrKey;

/**
 * FstCsr:
 * @cri_whole: the whole CertificationRequestInfo, what the signature covers
 * @sigalg: the contents of the signature AlgorithmIdentifier
 * @sig: the contents of the signature BIT STRING
 * @spki_whole: the whole SubjectPublicKeyInfo
 *
 * The parts of a CSR issuance uses; each points into the parsed bytes.
 */
typedef struct {
	FstDer cri_whole;
	FstDer sigalg;
	FstDer sig;
	FstDer spki_whole;
} FstCsr;

void fst_csr_key_clear(FstCsrKey *key);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstCsrKey, fst_csr_key_clear)

gboolean fst_csr_decode_spki(const guint8 *data, gsize len, FstCsrKey *key, gchar **reason);
gboolean fst_csr_parse(const guint8 *data, gsize len, FstCsr *csr);
gboolean fst_csr_verify_signature(const guint8 *data, gsize len, const FstCsr *csr, EVP_PKEY *pkey);

G_END_DECLS
