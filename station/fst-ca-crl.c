/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate revocation lists: the issuing CA signs a v2 CRL (RFC 5280
 * section 5) of the certificates the database marks revoked.
 *
 * A CRL holds: issuer = the issuing CA's subject, thisUpdate = now,
 * nextUpdate = now + the days asked, one entry per revoked certificate issued
 * by this CA (serial, revocation time, and a reasonCode extension unless the
 * reason is unspecified, which RFC 5280 says to leave out), the
 * authorityKeyIdentifier of the CA and a cRLNumber. The numbers grow by one per
 * CRL and are kept in WORKSPACE/ca/crlnumber (one decimal line).
 *
 * The reasons are RFC 5280's CRLReason names; the database stores these names
 * (certificates.revocation_reason). certificateHold and removeFromCRL are not
 * offered: a revocation here is final.
 */

#define G_LOG_DOMAIN "FstCaCrl"

#include "fst-ca-crl.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "fst-ca-store.h"
#include "fst-db.h"
#include "fst-crypto.h"
#include "fst-error.h"
#include "fst-openssl-common.h"

#define FST_CA_CRL_FILE "crlnumber"

static const struct {
	gint code;
	const gchar *name;
} fst_ca_crl_reasons[] = {
    {CRL_REASON_UNSPECIFIED, "unspecified"},
    {CRL_REASON_KEY_COMPROMISE, "keyCompromise"},
    {CRL_REASON_CA_COMPROMISE, "cACompromise"},
    {CRL_REASON_AFFILIATION_CHANGED, "affiliationChanged"},
    {CRL_REASON_SUPERSEDED, "superseded"},
    {CRL_REASON_CESSATION_OF_OPERATION, "cessationOfOperation"},
    {CRL_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn"},
    {CRL_REASON_AA_COMPROMISE, "aACompromise"},
};

/* "key-compromise", "KEY_COMPROMISE" and "keyCompromise" are the same name */
static gchar *
fst_ca_crl_fold(const gchar *str)
{
	GString *out = g_string_new(NULL);
	for (const gchar *p = str; *p != '\0'; p++) {
		if (*p != '-' && *p != '_' && *p != ' ')
			g_string_append_c(out, g_ascii_tolower(*p));
	}
	return g_string_free(out, FALSE);
}

/**
 * fst_ca_crl_reason_from_string:
 * @str: a reason name, e.g. "keyCompromise" or "key-compromise"
 *
 * Returns: the RFC 5280 CRLReason code, or -1 if @str names none offered
 */
gint
fst_ca_crl_reason_from_string(const gchar *str)
{
	g_autofree gchar *folded = NULL;

	if (str == NULL)
		return -1;
	folded = fst_ca_crl_fold(str);
	for (guint i = 0; i < G_N_ELEMENTS(fst_ca_crl_reasons); i++) {
		g_autofree gchar *name = fst_ca_crl_fold(fst_ca_crl_reasons[i].name);
		if (g_strcmp0(name, folded) == 0)
			return fst_ca_crl_reasons[i].code;
	}
	return -1;
}

/**
 * fst_ca_crl_reason_to_string:
 * @reason: an RFC 5280 CRLReason code
 *
 * Returns: (transfer none): its name, e.g. "keyCompromise", or "unspecified"
 */
const gchar *
fst_ca_crl_reason_to_string(gint reason)
{
	for (guint i = 0; i < G_N_ELEMENTS(fst_ca_crl_reasons); i++) {
		if (fst_ca_crl_reasons[i].code == reason)
			return fst_ca_crl_reasons[i].name;
	}
	return "unspecified";
}

/**
 * fst_ca_crl_reasons_list:
 *
 * Returns: (transfer full): the reason names, comma-separated, for messages
 */
gchar *
fst_ca_crl_reasons_list(void)
{
	GString *str = g_string_new(NULL);
	for (guint i = 0; i < G_N_ELEMENTS(fst_ca_crl_reasons); i++)
		g_string_append_printf(str, "%s%s", i > 0 ? ", " : "", fst_ca_crl_reasons[i].name);
	return g_string_free(str, FALSE);
}

/* one CRL entry for a revoked certificate of the database */
static X509_REVOKED *
fst_ca_crl_entry(const FstDbCert *cert, GError **error)
{
	g_autoptr(X509_REVOKED) rev = X509_REVOKED_new();
	g_autoptr(BIGNUM) bn = NULL;
	g_autoptr(ASN1_INTEGER) serial = NULL;
	g_autoptr(ASN1_TIME) when = NULL;
	gint64 revoked_at = cert->revoked_at > 0 ? cert->revoked_at : cert->updated_at;
	gint reason = fst_ca_crl_reason_from_string(cert->revocation_reason);

	if (cert->serial_hex == NULL || cert->serial_hex[0] == '\0' ||
	    BN_hex2bn(&bn, cert->serial_hex) != (int)strlen(cert->serial_hex)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_DATABASE,
		            "the database holds a revoked certificate with a bad serial %s",
		            cert->serial_hex != NULL ? cert->serial_hex : "(none)");
		return NULL;
	}
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	when = ASN1_TIME_set(NULL, (time_t)(revoked_at / G_USEC_PER_SEC));
	if (rev == NULL || serial == NULL || when == NULL ||
	    X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
	    X509_REVOKED_set_revocationDate(rev, when) != 1)
		goto fail;
	/* RFC 5280 5.3.1: leave the reason out rather than say unspecified */
	if (reason > CRL_REASON_UNSPECIFIED) {
		g_autoptr(ASN1_ENUMERATED) e = ASN1_ENUMERATED_new();
		if (e == NULL || ASN1_ENUMERATED_set(e, reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0, 0) != 1)
			goto fail;
	}
	return g_steal_pointer(&rev);
fail:
	fst_error_set_openssl(
	    error, FST_ERROR_INTERNAL, "cannot make the CRL entry of %s", cert->serial_hex);
	return NULL;
}

/**
 * fst_ca_crl_build:
 * @ca: the issuing CA (its key signs)
 * @revoked: (element-type FstDbCert): the revoked certificates issued by @ca
 *   (fst_db_list_certificates() with state "revoked" and the CA's hash)
 * @crl_number: this CRL's number (fst_ca_crl_next_number())
 * @days: until nextUpdate, at least 1
 * @error: (nullable): return location
 *
 * Returns: (transfer full): the DER CRL, or %NULL with @error set
 */
GBytes *
fst_ca_crl_build(FstCa *ca, GPtrArray *revoked, guint64 crl_number, guint days, GError **error)
{
	g_autoptr(X509_CRL) crl = X509_CRL_new();
	g_autoptr(ASN1_TIME) this_update = NULL;
	g_autoptr(ASN1_TIME) next_update = NULL;
	g_autoptr(ASN1_INTEGER) number = ASN1_INTEGER_new();
	g_autoptr(X509_EXTENSION) aki = NULL;
	X509 *ca_cert = fst_ca_get_cert(ca);
	EVP_PKEY *key = fst_ca_get_key(ca);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	X509V3_CTX ctx;
	guint8 *der = NULL;
	int der_len;

	g_return_val_if_fail(days > 0, NULL);
	this_update = ASN1_TIME_set(NULL, (time_t)now);
	next_update = ASN1_TIME_set(NULL, (time_t)(now + (gint64)days * 86400));
	if (crl == NULL || number == NULL || this_update == NULL || next_update == NULL ||
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_cert)) != 1 ||
	    X509_CRL_set1_lastUpdate(crl, this_update) != 1 ||
	    X509_CRL_set1_nextUpdate(crl, next_update) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot build the CRL");
		return NULL;
	}
	for (guint i = 0; i < revoked->len; i++) {
		const FstDbCert *cert = g_ptr_array_index(revoked, i);
		X509_REVOKED *rev;
		if (cert->state != FST_CERT_STATE_REVOKED)
			continue;
		rev = fst_ca_crl_entry(cert, error);
		if (rev == NULL)
			return NULL;
		if (X509_CRL_add0_revoked(crl, rev) != 1) {
			X509_REVOKED_free(rev);
			fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot add a CRL entry");
			return NULL;
		}
	}
	X509_CRL_sort(crl);
	X509V3_set_ctx(&ctx, ca_cert, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	if (aki == NULL || X509_CRL_add_ext(crl, aki, -1) != 1 ||
	    ASN1_INTEGER_set_uint64(number, crl_number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) != 1) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot add the CRL extensions");
		return NULL;
	}
	if (X509_CRL_sign(crl, key, fst_crypto_md_for_key(key)) <= 0) {
		fst_error_set_openssl(error, FST_ERROR_CA_UNAVAILABLE, "cannot sign the CRL");
		return NULL;
	}
	der_len = i2d_X509_CRL(crl, &der);
	if (der_len <= 0) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode the CRL");
		return NULL;
	}
	{
		GBytes *bytes = g_bytes_new(der, (gsize)der_len);
		OPENSSL_free(der);
		return bytes;
	}
}

/**
 * fst_ca_crl_next_number:
 * @ca_dir: the workspace CA directory
 * @number: (out): the number for the next CRL (1 for the first)
 * @error: (nullable): return location
 *
 * Reads `crlnumber`, adds one and writes it back before returning, so that two
 * CRLs never share a number even if the second is made after a crash.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_crl_next_number(const gchar *ca_dir, guint64 *number, GError **error)
{
	g_autofree gchar *path = g_build_filename(ca_dir, FST_CA_CRL_FILE, NULL);
	g_autofree gchar *contents = NULL;
	g_autofree gchar *line = NULL;
	guint64 last = 0;

	if (g_file_get_contents(path, &contents, NULL, NULL)) {
		g_strstrip(contents);
		if (!g_ascii_string_to_unsigned(contents, 10, 0, G_MAXUINT64 - 1, &last, NULL)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s does not hold a CRL number: fix it (one decimal line, "
			            "the last number used)",
			            path);
			return FALSE;
		}
	}
	line = g_strdup_printf("%" G_GUINT64_FORMAT "\n", last + 1);
	if (!g_file_set_contents_full(
	        path, line, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	*number = last + 1;
	return TRUE;
}
