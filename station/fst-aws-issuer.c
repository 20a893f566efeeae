/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device certificates issued by AWS IoT (`[profile] issuer=aws`), for users
 * without a CA of their own. With key-source=device-csr the device's CSR,
 * checked here first, goes to CreateCertificateFromCsr; with
 * key-source=station-generated AWS makes the key pair
 * (CreateKeysAndCertificate), and the private key goes to the device as
 * PKCS#8 DER in an FstSecret, like a key the station made.
 *
 * What AWS answers is checked before anything is recorded: the certificate
 * is for the device's key (or the key AWS sent), and its AWS id is the
 * SHA-256 of its DER, as the station records it. The certificate is then
 * recorded, burned, read back and proven by the pipeline exactly as one the
 * station's CA signed; it is registered at AWS from its first moment.
 *
 * AWS makes it INACTIVE, and the pipeline activates it
 * (fst_aws_issuer_activate()) only once it is recorded, in the commit
 * before anything goes to the device: a station stopped in between leaves
 * at AWS an inactive certificate, which nothing can connect with, never an
 * active one the database does not know.
 *
 * Such a profile needs AWS at every device: fst_aws_issuer_connect() checks
 * the credentials and that AWS IoT answers once per run, so an offline
 * station refuses the run before any device is touched.
 */

#define G_LOG_DOMAIN "FstAwsIssuer"

#include "fst-aws-issuer.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "fst-crypto.h"
#include "fst-csr.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-x509.h"

/* what the operator can do about a station that cannot reach AWS */
#define FST_AWS_ISSUER_ADVICE                                                                      \
	"connect the station to AWS (credentials in AWS_ACCESS_KEY_ID and "                        \
	"AWS_SECRET_ACCESS_KEY or ~/.aws/credentials, the network up), or provision with a "       \
	"profile the station's CA issues"

/**
 * fst_aws_issuer_connect:
 * @profile: a profile with `issuer=aws`
 * @error: (nullable): return location for a #GError
 *
 * Finds the AWS credentials (as the AWS CLI does, with the region of the
 * profile's `[aws]` group if it names one) and checks that AWS IoT answers
 * (DescribeEndpoint, two tries), so that a run whose certificates AWS issues
 * is refused before any device is touched when the station is offline.
 *
 * Returns: (transfer full): the credentials each run's client is made with,
 *   or %NULL with %FST_ERROR_CONFIG (no credentials or region), or the
 *   error of the call (%FST_ERROR_DISCONNECTED, %FST_ERROR_PERMISSION_DENIED...)
 *   whose message says what to do
 */
FstAwsCredentials *
fst_aws_issuer_connect(const FstProfile *profile, GError **error)
{
	const FstProfileAws *aws = fst_profile_get_aws(profile);
	g_autoptr(FstAwsCredentials) creds = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *endpoint = NULL;

	creds = fst_aws_credentials_load(NULL, aws->region, NULL, &error_local);
	if (creds != NULL)
		iot = fst_aws_iot_new(creds, &error_local);
	if (iot != NULL) {
		fst_aws_iot_set_retry(iot, 2, 100, 500);
		endpoint = fst_aws_iot_describe_endpoint(iot, "iot:Data-ATS", NULL, &error_local);
	}
	if (endpoint == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            error_local->code,
		            "profile %s has AWS IoT issue its certificates (issuer=aws), and AWS "
		            "cannot be used: %s; nothing was provisioned: " FST_AWS_ISSUER_ADVICE,
		            fst_profile_get_name(profile),
		            error_local->message);
		return NULL;
	}
	g_debug("certificates of profile %s issued by AWS IoT in %s (credentials from %s, "
	        "devices connect to %s)",
	        fst_profile_get_name(profile),
	        creds->region,
	        creds->source,
	        endpoint);
	return g_steal_pointer(&creds);
}

/* the key @x509 is for, encoded as fst_csr_decode_spki() does */
static gboolean
fst_aws_issuer_x509_key(X509 *x509, FstCsrKey *key, gchar **reason)
{
	g_autoptr(GBytes) spki = fst_x509_get_spki(x509);

	return spki != NULL &&
	       fst_csr_decode_spki(
	           g_bytes_get_data(spki, NULL), g_bytes_get_size(spki), key, reason);
}

/* the certificate AWS answered, checked and described as the database
 * records it; @spki: the public key it must be for */
static FstIssuedCert *
fst_aws_issuer_check(const FstAwsCertificate *cert,
                     const FstProfile *profile,
                     const gchar *uid,
                     const GByteArray *spki,
                     GError **error)
{
	g_autoptr(FstIssuedCert) issued = g_new0(FstIssuedCert, 1);
	g_autoptr(BIO) in = BIO_new_mem_buf(cert->certificate_pem, -1);
	g_autoptr(X509) x509 = NULL;
	g_autoptr(BIO) out = NULL;
	g_autoptr(BIGNUM) serial = NULL;
	g_auto(FstCsrKey) key = {0};
	g_autofree gchar *reason = NULL;
	g_autofree guint8 *der = NULL;
	guint8 *p;
	gint der_len;
	gchar *hex;
	BUF_MEM *mem = NULL;

	x509 = in != NULL ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
	der_len = x509 != NULL ? i2d_X509(x509, NULL) : -1;
	if (der_len <= 0) {
		fst_error_set_openssl(error,
		                      FST_ERROR_PROTOCOL,
		                      "AWS IoT answered a certificate for device %s that cannot be "
		                      "read",
		                      uid);
		return NULL;
	}
	der = g_malloc(der_len);
	p = der;
	i2d_X509(x509, &p);
	issued->der = g_bytes_new(der, der_len);
	issued->aws_cert_id = fst_x509_sha256_hex(issued->der);
	if (g_strcmp0(issued->aws_cert_id, cert->certificate_id) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "AWS IoT gave the certificate of device %s the id %s, and the SHA-256 "
		            "of its DER is %s: refused, nothing was recorded",
		            uid,
		            cert->certificate_id,
		            issued->aws_cert_id);
		return NULL;
	}

	/* the key it is for */
	if (!fst_aws_issuer_x509_key(x509, &key, &reason)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "AWS IoT answered a certificate for device %s with a key the station "
		            "cannot use: %s",
		            uid,
		            reason != NULL ? reason : "unreadable");
		return NULL;
	}
	if (key.spki->len != spki->len || memcmp(key.spki->data, spki->data, spki->len) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_VERIFY_FAILED,
		            "AWS IoT answered certificate %s for device %s, and it is not for the "
		            "device's key: refused, nothing was recorded; set it INACTIVE at AWS",
		            cert->certificate_id,
		            uid);
		return NULL;
	}
	if ((fst_profile_get_allowed_key_types(profile) & key.key_type) == 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_SUPPORTED,
		            "AWS IoT issued device %s a certificate for a %s key, which profile %s "
		            "does not allow",
		            uid,
		            fst_key_type_to_string(key.key_type),
		            fst_profile_get_name(profile));
		return NULL;
	}

	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), NULL);
	hex = serial != NULL ? BN_bn2hex(serial) : NULL;
	out = BIO_new(BIO_s_mem());
	if (hex == NULL || out == NULL ||
	    X509_NAME_print_ex(out, X509_get_subject_name(x509), 0, XN_FLAG_RFC2253) < 0) {
		OPENSSL_free(hex);
		fst_error_set_openssl(
		    error, FST_ERROR_PROTOCOL, "reading the certificate AWS IoT issued");
		return NULL;
	}
	issued->serial_hex = g_strdup(hex);
	OPENSSL_free(hex);
	BIO_get_mem_ptr(out, &mem);
	issued->subject = g_strndup(mem->data, mem->length);
	issued->key_type = g_strdup(fst_key_type_to_string(key.key_type));
	issued->not_before = fst_crypto_asn1_time_to_unix(X509_get0_notBefore(x509));
	issued->not_after = fst_crypto_asn1_time_to_unix(X509_get0_notAfter(x509));
	return g_steal_pointer(&issued);
}

/* how far AWS's creation times may stray from the call's span: they are in
 * whole seconds or milliseconds, and AWS made the certificate somewhere
 * between the request and the answer */
#define FST_AWS_ISSUER_LOST_MARGIN_US (5 * G_USEC_PER_SEC)
/* a busy account makes many certificates while one call runs: the listing
 * and the certificates read one by one are bounded */
#define FST_AWS_ISSUER_LOST_MAX_LISTED 2000
#define FST_AWS_ISSUER_LOST_MAX_READ 50

/* AWS IoT is the run's issuing CA: when it refuses the station (credentials
 * expired or revoked, a policy without the call), or stays out of reach
 * through every retry (the network, an outage of AWS, throttling), it fails
 * every device the same way, so the error is the issuer's
 * (%FST_ERROR_CA_UNAVAILABLE), which stops the line */
static void
fst_aws_issuer_unavailable(GError **error)
{
	if (error == NULL || *error == NULL || (*error)->domain != FST_ERROR)
		return;
	if ((*error)->code == FST_ERROR_PERMISSION_DENIED ||
	    (*error)->code == FST_ERROR_DISCONNECTED || (*error)->code == FST_ERROR_TIMED_OUT ||
	    (*error)->code == FST_ERROR_BUSY)
		(*error)->code = FST_ERROR_CA_UNAVAILABLE;
}

/* the error of a create call that failed: a refusal is the issuer's; after
 * tries whose answer was lost, it says that AWS may hold a certificate from
 * one of them */
static void
fst_aws_issuer_create_failed(FstAwsIot *iot, GError **error)
{
	guint lost = fst_aws_iot_get_lost_answer_count(iot);
	gchar *message;

	fst_aws_issuer_unavailable(error);
	if (lost == 0 || error == NULL || *error == NULL)
		return;
	message = g_strdup_printf("%s; %u answer%s of AWS IoT lost: AWS may hold an INACTIVE "
	                          "certificate made for %s, which nothing records",
	                          (*error)->message,
	                          lost,
	                          lost == 1 ? "" : "s",
	                          lost == 1 ? "it" : "them");
	g_free((*error)->message);
	(*error)->message = message;
}

/* whether the certificate in @pem is for @spki and the station's database
 * @db does not know it (by its serial's index):
 * a certificate the station recorded (an earlier try of a device that came
 * back with the same key) is never one of a lost answer */
static gboolean
fst_aws_issuer_lost_one(FstDb *db, const gchar *pem, const GByteArray *spki, GError **error)
{
	g_autoptr(BIO) in = pem != NULL ? BIO_new_mem_buf(pem, -1) : NULL;
	g_autoptr(X509) x509 = in != NULL ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
	g_autoptr(BIGNUM) serial = NULL;
	g_autoptr(GPtrArray) known = NULL;
	g_auto(FstCsrKey) key = {0};
	FstDbCertFilter filter = {0};
	gchar *hex;

	if (x509 == NULL || !fst_aws_issuer_x509_key(x509, &key, NULL)) {
		ERR_clear_error();
		return FALSE;
	}
	if (key.spki->len != spki->len || memcmp(key.spki->data, spki->data, spki->len) != 0)
		return FALSE;
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509), NULL);
	hex = serial != NULL ? BN_bn2hex(serial) : NULL;
	if (hex == NULL) {
		ERR_clear_error();
		return FALSE;
	}
	filter.serial_hex = hex;
	known = fst_db_list_certificates(db, &filter, error);
	OPENSSL_free(hex);
	return known != NULL && known->len == 0;
}

/* the certificates AWS made from the CSR for tries of the call whose answer
 * was lost (fst_aws_iot_get_lost_answer_count()): among those created while
 * the call ran (by AWS's clock: the kept one's creation time less the
 * call's span), INACTIVE, for the device's key, not @kept_id and not in
 * @db; each is deleted, so that AWS holds no certificate the station did
 * not record.
 * Nothing here fails the device: the returned text, for the issue step,
 * says what was done and what could not be */
static gchar *
fst_aws_issuer_delete_lost(FstAwsIot *iot,
                           FstDb *db,
                           const GByteArray *spki,
                           const gchar *kept_id,
                           gint64 call_us,
                           guint lost,
                           GCancellable *cancellable)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(FstAwsCertificate) kept = NULL;
	g_autoptr(GPtrArray) listed = NULL;
	g_autoptr(GString) note = g_string_new(NULL);
	g_autoptr(GString) deleted = g_string_new(NULL);
	guint n_deleted = 0;
	guint read = 0;
	gint64 since;

	g_string_printf(note, "%u answer%s of AWS IoT lost", lost, lost == 1 ? "" : "s");
	if (db == NULL) {
		g_set_error_literal(&error,
		                    FST_ERROR,
		                    FST_ERROR_NOT_SUPPORTED,
		                    "no database to tell them from recorded ones");
		goto unknown;
	}
	kept = fst_aws_iot_describe_certificate(iot, kept_id, cancellable, &error);
	if (kept != NULL && kept->created <= 0)
		g_set_error_literal(&error,
		                    FST_ERROR,
		                    FST_ERROR_PROTOCOL,
		                    "DescribeCertificate gave no creationDate");
	if (error != NULL)
		goto unknown;
	since = kept->created - call_us - FST_AWS_ISSUER_LOST_MARGIN_US;
	listed = fst_aws_iot_list_certificates_since(
	    iot, since, FST_AWS_ISSUER_LOST_MAX_LISTED, cancellable, &error);
	if (listed == NULL)
		goto unknown;
	for (guint i = 0; i < listed->len; i++) {
		FstAwsCertificate *c = g_ptr_array_index(listed, i);
		g_autoptr(FstAwsCertificate) full = NULL;

		if (c->certificate_id == NULL || g_strcmp0(c->certificate_id, kept_id) == 0 ||
		    g_strcmp0(c->status, "INACTIVE") != 0 ||
		    c->created > kept->created + FST_AWS_ISSUER_LOST_MARGIN_US)
			continue;
		if (read++ >= FST_AWS_ISSUER_LOST_MAX_READ) {
			g_set_error(&error,
			            FST_ERROR,
			            FST_ERROR_BUSY,
			            "over %d INACTIVE certificates made meanwhile, not all read",
			            FST_AWS_ISSUER_LOST_MAX_READ);
			break;
		}
		full =
		    fst_aws_iot_describe_certificate(iot, c->certificate_id, cancellable, &error);
		/* deleted meanwhile: another lane's lost answer, which that lane
		 * found as this one finds its own */
		if (full == NULL && g_error_matches(error, FST_ERROR, FST_ERROR_NOT_FOUND)) {
			g_clear_error(&error);
			continue;
		}
		if (full == NULL)
			break;
		if (!fst_aws_issuer_lost_one(db, full->certificate_pem, spki, &error)) {
			if (error != NULL)
				break;
			continue;
		}
		if (!fst_aws_iot_delete_certificate(iot, c->certificate_id, cancellable, &error)) {
			g_prefix_error(&error,
			               "certificate %s, made for the device's key, not deleted: ",
			               c->certificate_id);
			break;
		}
		g_string_append_printf(
		    deleted, "%s%s", n_deleted > 0 ? ", " : "", c->certificate_id);
		n_deleted++;
	}
	if (error == NULL && listed->len >= FST_AWS_ISSUER_LOST_MAX_LISTED)
		g_set_error(&error,
		            FST_ERROR,
		            FST_ERROR_BUSY,
		            "over %d certificates made meanwhile, not all listed",
		            FST_AWS_ISSUER_LOST_MAX_LISTED);
	if (n_deleted > 0)
		g_string_append_printf(note,
		                       "; certificate%s %s, made for the device's key by a try "
		                       "whose answer was lost, deleted at AWS",
		                       n_deleted == 1 ? "" : "s",
		                       deleted->str);
	else if (error == NULL)
		g_string_append(note, "; AWS made no other certificate for the device's key");
	if (error == NULL)
		return g_string_free(g_steal_pointer(&note), FALSE);
unknown:
	/* not a failure of the device: the issue step records it */
	g_message("after %u lost answer%s of AWS IoT, certificates made for a lost answer "
	          "could not all be found or deleted: %s",
	          lost,
	          lost == 1 ? "" : "s",
	          error->message);
	g_string_append_printf(note,
	                       "; a certificate AWS may have made for %s, INACTIVE, is left "
	                       "there: %s",
	                       lost == 1 ? "it" : "them",
	                       error->message);
	return g_string_free(g_steal_pointer(&note), FALSE);
}

/**
 * fst_aws_issuer_issue_from_csr:
 * @iot: the AWS IoT client of the run
 * @profile: a profile with `issuer=aws` and `key-source=device-csr`
 * @info: what the device said about itself
 * @csr_der: the device's CSR, DER (untrusted)
 * @db: (nullable): the station's database, where a certificate AWS made
 *   for a lost answer is looked up before it is deleted, and the CSR's key
 *   before anything is asked; without it none is deleted, and the key is
 *   checked when it is recorded
 * @certificate_arn: (out) (transfer full): the certificate's ARN
 * @lost_note: (out) (transfer full) (optional): when answers of AWS were
 *   lost on the way, what became of the certificates AWS made for them, for
 *   the issue step; %NULL when none was lost
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Checks the CSR as the station's CA does (fst_ca_check_device_csr()) and
 * has AWS IoT sign it (CreateCertificateFromCsr, INACTIVE until
 * fst_aws_issuer_activate()). The certificate must be for the CSR's key and
 * carry AWS's id. A key @db has certified for another device is refused
 * first (fst_db_check_public_key()), as recording it would be.
 *
 * CreateCertificateFromCsr is not idempotent: a try whose answer was lost
 * (a reset or timeout after the request went out, a 5xx) may have made a
 * certificate, and the retry makes another. The station keeps the one it
 * was answered and deletes at AWS the others: INACTIVE, for the CSR's key,
 * made while the call ran and unknown to @db (ListCertificates,
 * DescribeCertificate, DeleteCertificate), so that AWS holds no certificate
 * of this device that the database does not know. What it did goes in @lost_note.
 * When no try is answered, the error says that AWS may hold one.
 *
 * Returns: (transfer full): the certificate, or %NULL; AWS IoT refusing the
 *   station, or out of reach after every retry, is %FST_ERROR_CA_UNAVAILABLE
 */
FstIssuedCert *
fst_aws_issuer_issue_from_csr(FstAwsIot *iot,
                              const FstProfile *profile,
                              const FstDeviceInfo *info,
                              GBytes *csr_der,
                              FstDb *db,
                              gchar **certificate_arn,
                              gchar **lost_note,
                              GCancellable *cancellable,
                              GError **error)
{
	g_auto(FstCsrKey) key = {0};
	g_autofree gchar *pem = NULL;
	g_autoptr(FstAwsCertificate) cert = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	const gchar *uid = info->uid != NULL ? info->uid : "(no uid)";
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(csr_der, &len);
	gint64 started;
	guint lost;

	g_return_val_if_fail(FST_IS_AWS_IOT(iot), NULL);
	g_return_val_if_fail(certificate_arn != NULL, NULL);

	/* the checks the station's own CA makes, before AWS sees anything, and
	 * a key another device holds refused before AWS keeps a certificate
	 * for it */
	if (!fst_ca_check_device_csr(profile, uid, csr_der, &key, error) ||
	    (db != NULL && !fst_db_check_public_key(db, uid, key.spki->data, key.spki->len, error)))
		return NULL;
	pem = fst_crypto_pem_encode("CERTIFICATE REQUEST", data, len, NULL);
	started = g_get_monotonic_time();
	cert = fst_aws_iot_create_certificate_from_csr(iot, pem, FALSE, cancellable, error);
	if (cert == NULL) {
		fst_aws_issuer_create_failed(iot, error);
		return NULL;
	}
	lost = fst_aws_iot_get_lost_answer_count(iot);
	issued = fst_aws_issuer_check(cert, profile, uid, key.spki, error);
	if (issued == NULL)
		return NULL;
	if (lost > 0) {
		g_autofree gchar *note =
		    fst_aws_issuer_delete_lost(iot,
		                               db,
		                               key.spki,
		                               cert->certificate_id,
		                               g_get_monotonic_time() - started,
		                               lost,
		                               cancellable);
		if (lost_note != NULL)
			*lost_note = g_steal_pointer(&note);
	}
	*certificate_arn = g_strdup(cert->certificate_arn);
	return g_steal_pointer(&issued);
}

/**
 * fst_aws_issuer_issue_with_key:
 * @iot: the AWS IoT client of the run
 * @profile: a profile with `issuer=aws` and `key-source=station-generated`
 * @info: what the device said about itself
 * @private_key: (out) (transfer full): the device's private key, PKCS#8 DER,
 *   to hand to the device and then free (which wipes it); never stored
 * @certificate_arn: (out) (transfer full): the certificate's ARN
 * @lost_note: (out) (transfer full) (optional): when answers of AWS were
 *   lost on the way, a note saying so for the issue step; %NULL when none
 *   was lost
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * CreateKeysAndCertificate: AWS IoT makes the key pair and the certificate,
 * INACTIVE until fst_aws_issuer_activate(). The key is checked to belong to
 * the certificate; every copy of it the station held, but the returned one,
 * is wiped.
 *
 * A try whose answer was lost may have made a certificate whose private
 * key nobody has: it stays INACTIVE at AWS, and nothing tells it from
 * another station's, so it is left there; @lost_note says it may exist.
 *
 * Returns: (transfer full): the certificate, or %NULL; AWS IoT refusing the
 *   station, or out of reach after every retry, is %FST_ERROR_CA_UNAVAILABLE
 */
FstIssuedCert *
fst_aws_issuer_issue_with_key(FstAwsIot *iot,
                              const FstProfile *profile,
                              const FstDeviceInfo *info,
                              FstSecret **private_key,
                              gchar **certificate_arn,
                              gchar **lost_note,
                              GCancellable *cancellable,
                              GError **error)
{
	g_autoptr(FstSecret) pem = NULL;
	g_autoptr(FstAwsCertificate) cert = NULL;
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autoptr(BIO) in = NULL;
	g_autoptr(EVP_PKEY) pkey = NULL;
	g_autoptr(GByteArray) spki = NULL;
	const gchar *uid = info->uid != NULL ? info->uid : "(no uid)";
	const guint8 *data;
	gsize len = 0;
	guint8 *der = NULL;
	gint der_len;
	guint lost;

	g_return_val_if_fail(FST_IS_AWS_IOT(iot), NULL);
	g_return_val_if_fail(private_key != NULL, NULL);
	g_return_val_if_fail(certificate_arn != NULL, NULL);

	cert = fst_aws_iot_create_keys_and_certificate(iot, FALSE, &pem, cancellable, error);
	if (cert == NULL) {
		fst_aws_issuer_create_failed(iot, error);
		return NULL;
	}
	lost = fst_aws_iot_get_lost_answer_count(iot);
	data = fst_secret_get_data(pem, &len);
	in = BIO_new_mem_buf(data, (gint)len);
	pkey = in != NULL ? PEM_read_bio_PrivateKey(in, NULL, NULL, NULL) : NULL;
	der_len = pkey != NULL ? i2d_PUBKEY(pkey, &der) : -1;
	if (der_len <= 0) {
		fst_error_set_openssl(error,
		                      FST_ERROR_PROTOCOL,
		                      "AWS IoT CreateKeysAndCertificate answered a private key the "
		                      "station cannot read");
		return NULL;
	}
	spki = g_byte_array_new();
	g_byte_array_append(spki, der, (guint)der_len);
	OPENSSL_free(g_steal_pointer(&der));
	{
		g_auto(FstCsrKey) key = {0};
		/* the same encoding fst_aws_issuer_check() compares with */
		if (!fst_csr_decode_spki(spki->data, spki->len, &key, NULL)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_SUPPORTED,
			            "AWS IoT made device %s a key the station cannot use",
			            uid);
			return NULL;
		}
		g_byte_array_set_size(spki, 0);
		g_byte_array_append(spki, key.spki->data, key.spki->len);
	}
	issued = fst_aws_issuer_check(cert, profile, uid, spki, error);
	if (issued == NULL)
		return NULL;

	/* the private half, as PKCS#8 DER, only ever in wiped memory */
	*private_key = fst_crypto_private_key_secret(pkey, error);
	if (*private_key == NULL)
		return NULL;
	*certificate_arn = g_strdup(cert->certificate_arn);
	if (lost > 0 && lost_note != NULL)
		*lost_note = g_strdup_printf(
		    "%u answer%s of AWS IoT lost; a certificate AWS may have made for %s, "
		    "INACTIVE, with a key nobody holds, is left there",
		    lost,
		    lost == 1 ? "" : "s",
		    lost == 1 ? "it" : "them");
	return g_steal_pointer(&issued);
}

/**
 * fst_aws_issuer_activate:
 * @iot: the AWS IoT client of the run
 * @profile: the profile the certificate was issued with
 * @aws_cert_id: the certificate's AWS id
 * @activated: (out): whether it was made ACTIVE (not when the profile has
 *   `[aws] status=inactive`, which leaves it as AWS made it)
 * @cancellable: (nullable): a #GCancellable
 * @error: (nullable): return location for a #GError
 *
 * Makes a certificate AWS issued ACTIVE (UpdateCertificate), once the
 * station has recorded it. Call it only then.
 *
 * Returns: %TRUE, or %FALSE with the error of the call (AWS IoT refusing
 *   the station, or out of reach after every retry: %FST_ERROR_CA_UNAVAILABLE)
 */
gboolean
fst_aws_issuer_activate(FstAwsIot *iot,
                        const FstProfile *profile,
                        const gchar *aws_cert_id,
                        gboolean *activated,
                        GCancellable *cancellable,
                        GError **error)
{
	g_return_val_if_fail(FST_IS_AWS_IOT(iot), FALSE);
	g_return_val_if_fail(aws_cert_id != NULL && activated != NULL, FALSE);

	*activated = FALSE;
	if (fst_profile_get_aws(profile)->inactive)
		return TRUE;
	if (!fst_aws_iot_update_certificate(iot, aws_cert_id, "ACTIVE", cancellable, error)) {
		fst_aws_issuer_unavailable(error);
		return FALSE;
	}
	*activated = TRUE;
	return TRUE;
}
