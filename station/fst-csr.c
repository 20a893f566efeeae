/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device key intake: the untrusted DER a device sends, a PKCS#10 CSR or a
 * bare SubjectPublicKeyInfo, parsed with the bounds-checked cursor of
 * fst-der.c. Only the key types the station issues for are decoded, and a
 * key is built straight from its parameters: OpenSSL 3.0's generic decoder
 * costs more than the signature an issuance makes, and issuance must be
 * bounded by one verification (the CSR) plus one signature.
 */

#define G_LOG_DOMAIN "FstCsr"

#include "fst-csr.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <string.h>

#include "fst-crypto.h"
#include "fst-openssl-common.h"

/* object identifier contents */
static const guint8 fst_oid_ec_public_key[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const guint8 fst_oid_rsa_encryption[] = {
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const guint8 fst_oid_p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const guint8 fst_oid_p384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
static const guint8 fst_oid_p521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};

/* the CSR signature algorithms verified without the generic decoder */
static const struct {
	guint8 oid[9];
	gsize oid_len;
	gint md;
	gboolean rsa;
} fst_csr_sigalgs[] = {
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}, 8, 256, FALSE},
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03}, 8, 384, FALSE},
    {{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04}, 8, 512, FALSE},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b}, 9, 256, TRUE},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c}, 9, 384, TRUE},
    {{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d}, 9, 512, TRUE},
};

static void
fst_csr_set_reason(gchar **reason, gchar *text)
{
	if (reason != NULL)
		*reason = text;
	else
		g_free(text);
}

/**
 * fst_csr_key_clear:
 * @key: a key filled by fst_csr_decode_spki()
 *
 * Frees what @key holds and empties it, so that clearing it again is safe.
 */
void
fst_csr_key_clear(FstCsrKey *key)
{
	g_clear_pointer(&key->pkey, EVP_PKEY_free);
	g_clear_pointer(&key->spki, g_byte_array_unref);
	key->key_type = FST_KEY_TYPE_NONE;
}

static EVP_PKEY *
fst_csr_pkey_from_params(const gchar *type, OSSL_PARAM *params)
{
	g_autoptr(EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		ERR_clear_error();
		return NULL;
	}
	return pkey;
}

/*
 * A public-only key on each supported curve, made once: a device key is a
 * copy of it with the device's point set, three times cheaper than building
 * the curve again through EVP_PKEY_fromdata() for every device.
 */
static EVP_PKEY *
fst_csr_ec_template(guint idx, const gchar *group)
{
	static gsize done[3];
	static EVP_PKEY *templates[3];

	if (g_once_init_enter(&done[idx])) {
		g_autoptr(EVP_PKEY) full = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
		guint8 point[1 + 2 * 66];
		gchar group_name[16];
		gsize point_len = 0;
		OSSL_PARAM ps[3];
		g_strlcpy(group_name, group, sizeof(group_name));
		if (full != NULL &&
		    EVP_PKEY_get_octet_string_param(
		        full, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &point_len) == 1) {
			ps[0] = OSSL_PARAM_construct_utf8_string(
			    OSSL_PKEY_PARAM_GROUP_NAME, group_name, 0);
			ps[1] = OSSL_PARAM_construct_octet_string(
			    OSSL_PKEY_PARAM_PUB_KEY, point, point_len);
			ps[2] = OSSL_PARAM_construct_end();
			templates[idx] = fst_csr_pkey_from_params("EC", ps);
		}
		ERR_clear_error();
		g_once_init_leave(&done[idx], 1);
	}
	return templates[idx];
}

/**
 * fst_csr_decode_spki:
 * @data: a DER SubjectPublicKeyInfo (untrusted)
 * @len: its length
 * @key: (out caller-allocates): the decoded key; clear it with fst_csr_key_clear()
 * @reason: (out) (transfer full) (optional): why a well-formed key is refused
 *
 * Decodes an untrusted SubjectPublicKeyInfo into @key, refusing every key
 * that is not RSA 2048/3072/4096 or EC P-256/P-384/P-521: @reason says what
 * it is then, and %FALSE is returned with key->key_type NONE. A malformed
 * SPKI returns %FALSE with no reason. The EC point is checked to be on its
 * curve; @key->spki is a canonical re-encoding.
 *
 * Returns: %TRUE if @key holds a supported public key
 */
gboolean
fst_csr_decode_spki(const guint8 *data, gsize len, FstCsrKey *key, gchar **reason)
{
	FstDer spki_der = {data, len};
	FstDer spki, alg, oid, params, bits;
	FstDer params_whole = {NULL, 0};
	FstDer pub;
	guint8 unused;

	key->key_type = FST_KEY_TYPE_NONE;
	if (!fst_der_read(&spki_der, FST_DER_SEQUENCE, &spki, NULL) || spki_der.len != 0 ||
	    !fst_der_read(&spki, FST_DER_SEQUENCE, &alg, NULL) ||
	    !fst_der_read(&spki, FST_DER_BIT_STRING, &bits, NULL) || spki.len != 0 ||
	    !fst_der_read(&alg, FST_DER_OID, &oid, NULL) || bits.len < 2)
		return FALSE;
	unused = bits.p[0];
	pub.p = bits.p + 1;
	pub.len = bits.len - 1;
	if (unused != 0)
		return FALSE;
	if (!fst_der_equal(&oid, fst_oid_ec_public_key, sizeof(fst_oid_ec_public_key)) &&
	    !fst_der_equal(&oid, fst_oid_rsa_encryption, sizeof(fst_oid_rsa_encryption))) {
		const guint8 *p = oid.p - 2;
		g_autoptr(ASN1_OBJECT) obj = NULL;
		gchar name[80] = "an unknown";
		/* oid.p - 2 is its header: an OID this short has a 2-byte header */
		if (oid.len < 0x80 && (obj = d2i_ASN1_OBJECT(NULL, &p, (long)oid.len + 2)) != NULL)
			OBJ_obj2txt(name, sizeof(name), obj, 0);
		ERR_clear_error();
		fst_csr_set_reason(
		    reason, g_strdup_printf("a %s key (only RSA and EC keys are supported)", name));
		return FALSE;
	}
	if (alg.len > 0) {
		FstDer tmp = alg;
		if (tmp.p[0] == FST_DER_OID)
			(void)fst_der_read(&tmp, FST_DER_OID, &params, &params_whole);
		else if (tmp.p[0] == FST_DER_NULL)
			(void)fst_der_read(&tmp, FST_DER_NULL, &params, &params_whole);
		else
			params_whole.p = NULL;
		if (params_whole.p == NULL || tmp.len != 0) {
			if (fst_der_equal(
			        &oid, fst_oid_ec_public_key, sizeof(fst_oid_ec_public_key))) {
				fst_csr_set_reason(
				    reason,
				    g_strdup("an EC key on an explicit curve (EC keys "
				             "must be on P-256, P-384 or P-521)"));
			}
			return FALSE;
		}
	}

	if (fst_der_equal(&oid, fst_oid_ec_public_key, sizeof(fst_oid_ec_public_key))) {
		const gchar *group = NULL;
		EVP_PKEY *tmpl;
		guint idx;
		if (params_whole.p == NULL || params_whole.p[0] != FST_DER_OID)
			return FALSE;
		if (fst_der_equal(&params, fst_oid_p256, sizeof(fst_oid_p256))) {
			key->key_type = FST_KEY_TYPE_EC_P256;
			group = "P-256";
			idx = 0;
		} else if (fst_der_equal(&params, fst_oid_p384, sizeof(fst_oid_p384))) {
			key->key_type = FST_KEY_TYPE_EC_P384;
			group = "P-384";
			idx = 1;
		} else if (fst_der_equal(&params, fst_oid_p521, sizeof(fst_oid_p521))) {
			key->key_type = FST_KEY_TYPE_EC_P521;
			group = "P-521";
			idx = 2;
		} else {
			const guint8 *p = params_whole.p;
			g_autoptr(ASN1_OBJECT) obj =
			    d2i_ASN1_OBJECT(NULL, &p, (long)params_whole.len);
			gchar name[80] = "an unknown curve";
			if (obj != NULL)
				OBJ_obj2txt(name, sizeof(name), obj, 0);
			ERR_clear_error();
			fst_csr_set_reason(reason,
			                   g_strdup_printf("an EC key on %s (EC keys must be on "
			                                   "P-256, P-384 or P-521)",
			                                   name));
			return FALSE;
		}
		/* setting the point checks it is on the curve */
		tmpl = fst_csr_ec_template(idx, group);
		key->pkey = tmpl != NULL ? EVP_PKEY_dup(tmpl) : NULL;
		if (key->pkey != NULL &&
		    EVP_PKEY_set1_encoded_public_key(key->pkey, pub.p, pub.len) != 1) {
			EVP_PKEY_free(g_steal_pointer(&key->pkey));
			ERR_clear_error();
		}
	} else {
		FstDer rsa_der = pub, rsa, n_der, e_der, n, e;
		g_autoptr(OSSL_PARAM_BLD) bld = OSSL_PARAM_BLD_new();
		g_autoptr(BIGNUM) bn_n = NULL;
		g_autoptr(BIGNUM) bn_e = NULL;
		OSSL_PARAM *ps = NULL;
		int nbits;
		if (params_whole.p == NULL || params_whole.p[0] != FST_DER_NULL || params.len != 0)
			return FALSE;
		if (!fst_der_read(&rsa_der, FST_DER_SEQUENCE, &rsa, NULL) || rsa_der.len != 0 ||
		    !fst_der_read(&rsa, FST_DER_INTEGER, &n_der, NULL) ||
		    !fst_der_read(&rsa, FST_DER_INTEGER, &e_der, NULL) || rsa.len != 0 ||
		    !fst_der_unsigned(&n_der, &n) || !fst_der_unsigned(&e_der, &e) || e.len > 8)
			return FALSE;
		nbits = (int)(n.len * 8);
		for (guint8 top = n.p[0]; (top & 0x80) == 0 && nbits > 0; top <<= 1)
			nbits--;
		if (nbits == 2048)
			key->key_type = FST_KEY_TYPE_RSA_2048;
		else if (nbits == 3072)
			key->key_type = FST_KEY_TYPE_RSA_3072;
		else if (nbits == 4096)
			key->key_type = FST_KEY_TYPE_RSA_4096;
		else {
			fst_csr_set_reason(
			    reason,
			    g_strdup_printf(
			        "an RSA-%d key (RSA keys must be 2048, 3072 or 4096 bits)", nbits));
			return FALSE;
		}
		bn_n = BN_bin2bn(n.p, (int)n.len, NULL);
		bn_e = BN_bin2bn(e.p, (int)e.len, NULL);
		if (bld == NULL || bn_n == NULL || bn_e == NULL ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1 ||
		    (ps = OSSL_PARAM_BLD_to_param(bld)) == NULL) {
			ERR_clear_error();
			return FALSE;
		}
		key->pkey = fst_csr_pkey_from_params("RSA", ps);
		OSSL_PARAM_free(ps);
	}
	if (key->pkey == NULL) {
		key->key_type = FST_KEY_TYPE_NONE;
		return FALSE;
	}

	/* re-encode: what goes into the certificate is ours, byte for byte canonical */
	key->spki = g_byte_array_sized_new((guint)(spki.len + 16));
	fst_der_put(key->spki, FST_DER_OID, oid.p, oid.len);
	g_byte_array_append(key->spki, params_whole.p, (guint)params_whole.len);
	fst_der_wrap(key->spki, 0, FST_DER_SEQUENCE);
	{
		gsize start = key->spki->len;
		g_byte_array_append(key->spki, bits.p, (guint)bits.len);
		fst_der_wrap(key->spki, start, FST_DER_BIT_STRING);
	}
	fst_der_wrap(key->spki, 0, FST_DER_SEQUENCE);
	{
		guint md_len = 0;
		if (EVP_Digest(pub.p, pub.len, key->key_id, &md_len, EVP_sha1(), NULL) != 1 ||
		    md_len != sizeof(key->key_id)) {
			ERR_clear_error();
			return FALSE;
		}
	}
	return TRUE;
}

/**
 * fst_csr_verify_signature:
 * @data: the DER CSR @csr was parsed from
 * @len: its length
 * @csr: what fst_csr_parse() found in it
 * @pkey: the key of its SubjectPublicKeyInfo, from fst_csr_decode_spki()
 *
 * Checks the CSR's self-signature, the proof of possession: ECDSA and RSA
 * PKCS#1 v1.5 with SHA-2 straight from the parsed bytes, anything else
 * (RSASSA-PSS, ...) through OpenSSL's own CSR verification.
 *
 * Returns: %TRUE if the signature verifies with @pkey
 */
gboolean
fst_csr_verify_signature(const guint8 *data, gsize len, const FstCsr *csr, EVP_PKEY *pkey)
{
	g_autoptr(EVP_MD_CTX) ctx = NULL;
	FstDer alg = csr->sigalg, oid;
	const FstDer *cri_whole = &csr->cri_whole;
	const FstDer *sig_bits = &csr->sig;
	gboolean is_rsa = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
	const EVP_MD *md = NULL;

	if (!fst_der_read(&alg, FST_DER_OID, &oid, NULL))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(fst_csr_sigalgs); i++) {
		if (fst_der_equal(&oid, fst_csr_sigalgs[i].oid, fst_csr_sigalgs[i].oid_len) &&
		    fst_csr_sigalgs[i].rsa == is_rsa) {
			md = fst_csr_sigalgs[i].md == 256   ? EVP_sha256()
			     : fst_csr_sigalgs[i].md == 384 ? EVP_sha384()
			                                    : EVP_sha512();
			break;
		}
	}
	/* parameters: absent for ECDSA, NULL for RSA */
	if (md != NULL && !(alg.len == 0 ||
	                    (is_rsa && alg.len == 2 && alg.p[0] == FST_DER_NULL && alg.p[1] == 0)))
		md = NULL;
	if (md == NULL) {
		/* anything else (RSASSA-PSS, ...): OpenSSL's own CSR verification */
		const guint8 *p = data;
		g_autoptr(X509_REQ) req = d2i_X509_REQ(NULL, &p, (long)len);
		gboolean ok = req != NULL && X509_REQ_verify(req, pkey) == 1;
		ERR_clear_error();
		return ok;
	}
	if (sig_bits->len < 2 || sig_bits->p[0] != 0)
		return FALSE;
	ctx = EVP_MD_CTX_new();
	/* one use: no copy of the context at the end */
	if (ctx != NULL)
		EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
	if (ctx == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, fst_crypto_fetched_md(md), NULL, pkey) != 1 ||
	    EVP_DigestVerify(
	        ctx, sig_bits->p + 1, sig_bits->len - 1, cri_whole->p, cri_whole->len) != 1) {
		ERR_clear_error();
		return FALSE;
	}
	return TRUE;
}

/**
 * fst_csr_parse:
 * @data: a DER PKCS#10 request (untrusted)
 * @len: its length, at most %FST_CSR_MAX_SIZE
 * @csr: (out caller-allocates): the parts found, pointing into @data
 *
 * Splits a CSR into the parts issuance needs, checking its structure with a
 * bounds-checked cursor: one SEQUENCE of the request info (version 0, a
 * name, a SubjectPublicKeyInfo, optional attributes), the signature
 * algorithm and the signature, nothing after it.
 *
 * Returns: %TRUE if @data is one well-formed CSR
 */
gboolean
fst_csr_parse(const guint8 *data, gsize len, FstCsr *csr)
{
	FstDer cur = {data, len};
	FstDer req, cri, version, name, spki, attrs;

	if (len == 0 || len > FST_CSR_MAX_SIZE)
		return FALSE;
	return fst_der_read(&cur, FST_DER_SEQUENCE, &req, NULL) && cur.len == 0 &&
	       fst_der_read(&req, FST_DER_SEQUENCE, &cri, &csr->cri_whole) &&
	       fst_der_read(&req, FST_DER_SEQUENCE, &csr->sigalg, NULL) &&
	       fst_der_read(&req, FST_DER_BIT_STRING, &csr->sig, NULL) && req.len == 0 &&
	       fst_der_read(&cri, FST_DER_INTEGER, &version, NULL) && version.len == 1 &&
	       version.p[0] == 0 && fst_der_read(&cri, FST_DER_SEQUENCE, &name, NULL) &&
	       fst_der_read(&cri, FST_DER_SEQUENCE, &spki, &csr->spki_whole) &&
	       (cri.len == 0 || fst_der_read(&cri, 0xa0, &attrs, NULL)) && cri.len == 0;
}
