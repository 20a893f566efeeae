/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an operator does with the workspace CA and its records, as engine
 * operations the CLI and the GUI both call: create or import the workspace
 * CA, revoke a certificate, issue a CRL, hand out an escrowed key, export a
 * device certificate and its chain. Each operation on the records records an
 * audit event naming the operator.
 */

#define G_LOG_DOMAIN "FstCaOps"

#include "fst-ca-ops.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <unistd.h>

#include "fst-ca-crl.h"
#include "fst-ca-pkcs11.h"
#include "fst-ca-store.h"
#include "fst-crypto.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-file.h"
#include "fst-openssl-common.h"
#include "fst-station.h"
#include "fst-time.h"

/* the workspace database, which must exist; records name @operator_name */
static FstDb *
fst_ca_ops_open_db(const gchar *workspace, const gchar *operator_name, GError **error)
{
	g_autofree gchar *path = g_build_filename(workspace, "station.db", NULL);
	g_autoptr(FstDb) db = NULL;

	if (!fst_station_check_records(workspace, error))
		return NULL;
	db = fst_db_open(path, error);
	if (db == NULL)
		return NULL;
	if (!fst_db_set_context(db,
	                        operator_name != NULL ? operator_name
	                                              : fst_station_default_operator(),
	                        NULL,
	                        error))
		return NULL;
	return g_steal_pointer(&db);
}

/* a workspace that has CA files gets no other: refused before anybody is
 * asked for a secret (fst_ca_store_create() and _import() check again) */
static gboolean
fst_ca_ops_check_no_ca(const gchar *workspace, GError **error)
{
	const gchar *files[] = {FST_CA_STORE_ISSUING_CERT,
	                        FST_CA_STORE_ISSUING_KEY,
	                        FST_CA_STORE_ROOT_CERT,
	                        FST_CA_STORE_ROOT_KEY};
	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree gchar *path = g_build_filename(workspace, "ca", files[i], NULL);
		if (g_file_test(path, G_FILE_TEST_EXISTS)) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "%s already exists: this workspace has a CA; renew its "
			            "issuing CA with `fleetstation ca renew`, or move its ca "
			            "folder away first (nothing was changed)",
			            path);
			return FALSE;
		}
	}
	return TRUE;
}

/* the passphrase that will encrypt the workspace's new CA keys */
static FstSecret *
fst_ca_ops_new_passphrase(const gchar *workspace, FstInteraction *interaction, GError **error)
{
	FstSecret *secret = NULL;
	if (!fst_station_ask_ca_secret(workspace, interaction, NULL, "new CA", &secret, error))
		return NULL;
	return secret;
}

/* the issuing CA key in a token: a bad URI (or one holding the PIN) is
 * refused before anybody is asked for the PIN */
static EVP_PKEY *
fst_ca_ops_open_token_key(const gchar *uri, FstInteraction *interaction, GError **error)
{
	g_autofree gchar *checked = fst_ca_pkcs11_read_ref(uri, error);
	g_autoptr(FstInteraction) fallback = NULL;
	g_autoptr(FstSecret) pin = NULL;

	if (checked == NULL)
		return NULL;
	if (!fst_ca_pkcs11_has_pin_source(checked)) {
		g_autofree gchar *what =
		    g_strdup_printf("the CA key in the PKCS#11 token %s", checked);
		if (interaction == NULL)
			interaction = fallback = fst_interaction_new(NULL);
		pin = fst_interaction_ask_pin(
		    interaction, what, FST_INTERACTION_FLAG_NONE, NULL, error);
		if (pin == NULL)
			return NULL;
	}
	return fst_ca_pkcs11_load_key(uri, pin, error);
}

/**
 * fst_ca_ops_create:
 * @workspace: the workspace
 * @interaction: (nullable): asks for the passphrase of the new keys (with
 *   %FST_INTERACTION_FLAG_NEW) and the PIN of a token key; %NULL for the
 *   default
 * @options: what to make
 * @root_subject: (out) (optional) (transfer full): the root CA subject, or
 *   %NULL with %FST_CA_OPS_CREATE_CSR
 * @error: (nullable): return location
 *
 * Makes a root CA and an issuing CA signed by it in WORKSPACE/ca, or with
 * %FST_CA_OPS_CREATE_CSR only the issuing CA key and its request. Key files
 * are encrypted with the passphrase asked for, which is not asked when no
 * key file is written (a request for a token key). A workspace that already
 * has CA files is refused (%FST_ERROR_CONFIG), as is a bad subject
 * (%FST_ERROR_INVALID_DATA), both before anybody is asked for a secret.
 *
 * Returns: (transfer full): the issuing CA subject, or %NULL with @error set
 */
gchar *
fst_ca_ops_create(const gchar *workspace,
                  FstInteraction *interaction,
                  const FstCaOpsCreate *options,
                  gchar **root_subject,
                  GError **error)
{
	const gchar *org = options->organization != NULL && options->organization[0] != '\0'
	                       ? options->organization
	                       : "fleetstation";
	gboolean csr = (options->flags & FST_CA_OPS_CREATE_CSR) != 0;
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	g_autofree gchar *subject = options->subject != NULL
	                                ? g_strdup(options->subject)
	                                : g_strdup_printf("/O=%s/CN=%s Issuing CA", org, org);
	g_autofree gchar *root_name = options->root_subject != NULL
	                                  ? g_strdup(options->root_subject)
	                                  : g_strdup_printf("/O=%s/CN=%s Root CA", org, org);
	g_autoptr(FstSecret) passphrase = NULL;
	g_autoptr(EVP_PKEY) token_key = NULL;
	FstCaStoreOptions issuing = {
	    .subject = subject,
	    .key_type =
	        options->key_type != FST_KEY_TYPE_NONE ? options->key_type : FST_KEY_TYPE_EC_P256,
	    .days = options->days > 0 ? options->days : 7300,
	    .pathlen = options->pathlen,
	};
	FstCaStoreOptions root = {
	    .subject = root_name,
	    .key_type = options->root_key_type != FST_KEY_TYPE_NONE ? options->root_key_type
	                                                            : issuing.key_type,
	    .days = options->root_days > 0 ? options->root_days : 9125,
	    .pathlen =
	        (options->flags & FST_CA_OPS_CREATE_ROOT_PATHLEN) ? options->root_pathlen : -1,
	};

	if (!fst_ca_ops_check_no_ca(workspace, error))
		return NULL;
	for (guint i = 0; i < (csr ? 1 : 2); i++) {
		g_autoptr(X509_NAME) name =
		    fst_ca_store_parse_subject(i == 0 ? subject : root_name, error);
		if (name == NULL)
			return NULL;
	}
	if (options->key != NULL) {
		token_key = fst_ca_ops_open_token_key(options->key, interaction, error);
		if (token_key == NULL)
			return NULL;
	}
	/* a root key is always written; a request for a token key writes no key */
	if (!csr || options->key == NULL) {
		passphrase = fst_ca_ops_new_passphrase(workspace, interaction, error);
		if (passphrase == NULL)
			return NULL;
	}
	if (csr) {
		if (!fst_ca_store_create_csr(
		        ca_dir, &issuing, token_key, options->key, passphrase, error))
			return NULL;
		if (root_subject != NULL)
			*root_subject = NULL;
		return g_steal_pointer(&subject);
	}
	if (!fst_ca_store_create(
	        ca_dir, &root, &issuing, token_key, options->key, passphrase, error))
		return NULL;
	if (root_subject != NULL)
		*root_subject = g_steal_pointer(&root_name);
	return g_steal_pointer(&subject);
}

/* records in the workspace's database, when it has one, that the issuing CA
 * @retired was replaced by the one now in ca/ */
static gboolean
fst_ca_ops_record_renewal(const gchar *workspace, const gchar *retired, GError **error)
{
	g_autofree gchar *db_path = g_build_filename(workspace, "station.db", NULL);
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autofree gchar *detail = NULL;
	g_autofree gchar *end = NULL;
	const FstCaInfo *now_in = NULL;
	const FstCaInfo *before = NULL;
	gint64 now = g_get_real_time();

	if (!g_file_test(db_path, G_FILE_TEST_EXISTS))
		return TRUE;
	{
		g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
		infos = fst_ca_store_list(ca_dir, error);
	}
	if (infos == NULL)
		return FALSE;
	for (guint i = 0; i < infos->len; i++) {
		const FstCaInfo *info = g_ptr_array_index(infos, i);
		if (g_strcmp0(info->name, "issuing-ca") == 0)
			now_in = info;
		else if (g_strcmp0(info->name, retired) == 0)
			before = info;
	}
	if (now_in == NULL || before == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INTERNAL,
		            "the renewed issuing CA or %s is not in the CA folder",
		            retired);
		return FALSE;
	}
	db = fst_ca_ops_open_db(workspace, NULL, error);
	if (db != NULL) {
		end = fst_time_iso(now_in->not_after * G_USEC_PER_SEC);
		detail = g_strdup_printf("issuing CA sha256 %s (%s, %s key, until %s) replaces "
		                         "issuing CA sha256 %s, kept as %s",
		                         now_in->sha256,
		                         now_in->subject,
		                         now_in->key,
		                         end,
		                         before->sha256,
		                         retired);
		if (fst_db_add_event(db, 0, "ca-renew", now, now, "ok", detail, error))
			return TRUE;
	}
	g_prefix_error(error,
	               "the issuing CA was renewed (the one before is kept as %s), but the "
	               "renewal is not recorded: ",
	               retired);
	return FALSE;
}

/**
 * fst_ca_ops_renew:
 * @workspace: the workspace
 * @interaction: (nullable): asks for the workspace passphrase (which opens
 *   the root key and encrypts the new key), and the PIN of a token key
 * @options: the new issuing CA
 * @retired: (out) (transfer full) (optional): the name the replaced CA is
 *   kept under; %NULL for a request (fst_ca_ops_install() retires it)
 * @error: (nullable): return location
 *
 * Renews the workspace's issuing CA (fst_ca_store_renew()): a new key and
 * certificate signed by the workspace's root, the replaced CA kept for the
 * certificates it issued; recorded as a `ca-renew` event. With @csr, only
 * the new key and its request (fst_ca_store_renew_csr()); the issuing CA in
 * service stays until fst_ca_ops_install(). Devices are issued by the new
 * CA from the next start of a station on the workspace; stations running
 * meanwhile go on with the one they unlocked.
 *
 * Returns: (transfer full): the new CA's subject, or %NULL with @error set
 */
gchar *
fst_ca_ops_renew(const gchar *workspace,
                 FstInteraction *interaction,
                 const FstCaOpsRenew *options,
                 gchar **retired,
                 GError **error)
{
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	g_autofree gchar *root_key_path = g_build_filename(ca_dir, FST_CA_STORE_ROOT_KEY, NULL);
	g_autofree gchar *issuing_key_path =
	    g_build_filename(ca_dir, FST_CA_STORE_ISSUING_KEY, NULL);
	g_autofree gchar *current_subject = NULL;
	g_autofree gchar *name = NULL;
	g_autoptr(FstSecret) passphrase = NULL;
	g_autoptr(EVP_PKEY) token_key = NULL;
	FstCaStoreOptions issuing = {0};

	if (!fst_ca_store_renew_options(
	        ca_dir, &current_subject, &issuing.key_type, &issuing.pathlen, error))
		return NULL;
	issuing.subject = options->subject != NULL ? options->subject : current_subject;
	if (options->key_type != FST_KEY_TYPE_NONE)
		issuing.key_type = options->key_type;
	{
		g_autoptr(X509_NAME) name_check =
		    fst_ca_store_parse_subject(issuing.subject, error);
		if (name_check == NULL)
			return NULL;
	}
	if (!options->csr && options->days == 0) {
		g_autofree gchar *root_path =
		    g_build_filename(ca_dir, FST_CA_STORE_ROOT_CERT, NULL);
		g_autoptr(GPtrArray) roots = fst_ca_store_read_certs(root_path, error);
		gint64 left;
		if (roots == NULL)
			return NULL;
		left = fst_crypto_asn1_time_to_unix(
		           X509_get0_notAfter(g_ptr_array_index(roots, roots->len - 1))) -
		       g_get_real_time() / G_USEC_PER_SEC;
		issuing.days = (guint)CLAMP(left / 86400, 0, 7300);
	} else {
		issuing.days = options->days > 0 ? options->days : 7300;
	}
	if (options->key != NULL) {
		token_key = fst_ca_ops_open_token_key(options->key, interaction, error);
		if (token_key == NULL)
			return NULL;
	}
	if (!options->csr) {
		/* the root key's passphrase, which the new key file is encrypted with too */
		if (!fst_station_ask_ca_secret(
		        workspace, interaction, root_key_path, "root CA", &passphrase, error))
			return NULL;
		if (!fst_ca_store_renew(
		        ca_dir, &issuing, token_key, options->key, passphrase, &name, error) ||
		    !fst_ca_ops_record_renewal(workspace, name, error))
			return NULL;
		if (retired != NULL)
			*retired = g_steal_pointer(&name);
		return g_strdup(issuing.subject);
	}
	/* a request: a new key file is encrypted with the passphrase of the key in
	 * service (checked by opening it), or a new one where that is in a token */
	if (options->key == NULL) {
		if (fst_ca_pkcs11_is_ref(issuing_key_path)) {
			passphrase = fst_ca_ops_new_passphrase(workspace, interaction, error);
		} else {
			g_autoptr(EVP_PKEY) check = NULL;
			if (fst_station_ask_ca_secret(workspace,
			                              interaction,
			                              issuing_key_path,
			                              "issuing CA",
			                              &passphrase,
			                              error))
				check = fst_ca_store_open_key(
				    issuing_key_path, passphrase, "issuing CA", error);
			if (check == NULL)
				return NULL;
		}
		if (passphrase == NULL)
			return NULL;
	}
	if (!fst_ca_store_renew_csr(ca_dir, &issuing, token_key, options->key, passphrase, error))
		return NULL;
	if (retired != NULL)
		*retired = NULL;
	return g_strdup(issuing.subject);
}

/**
 * fst_ca_ops_install:
 * @workspace: the workspace
 * @cert_path: the issuing CA certificate the offline root signed
 * @chain_path: (nullable): the certificates above it
 * @retired: (out) (transfer full) (optional): for a renewal, the name the
 *   replaced CA is kept under; else %NULL
 * @error: (nullable): return location
 *
 * Puts the certificate signed for `ca create --csr` or `ca renew --csr` in
 * service (fst_ca_store_install()); a renewal is recorded as a `ca-renew`
 * event.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_ops_install(const gchar *workspace,
                   const gchar *cert_path,
                   const gchar *chain_path,
                   gchar **retired,
                   GError **error)
{
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	g_autofree gchar *name = NULL;

	if (!fst_ca_store_install(ca_dir, cert_path, chain_path, &name, error))
		return FALSE;
	if (name != NULL && !fst_ca_ops_record_renewal(workspace, name, error))
		return FALSE;
	if (retired != NULL)
		*retired = g_steal_pointer(&name);
	return TRUE;
}

/* reads the key and certificates to import; an encrypted key or PKCS#12
 * file without a passphrase asks @interaction for it, once */
static gboolean
fst_ca_ops_import_read(FstInteraction *interaction,
                       const FstCaOpsImport *import,
                       EVP_PKEY **pkey,
                       GPtrArray **certs,
                       GError **error)
{
	const gchar *file = import->pkcs12 != NULL ? import->pkcs12 : import->key;
	g_autofree gchar *description = g_strdup_printf("the key being imported, %s", file);
	g_autoptr(FstSecret) asked = NULL;
	const FstSecret *pass = import->passphrase;
	g_autoptr(GError) error_local = NULL;

	if (import->pkcs12 == NULL) {
		*certs = fst_ca_store_read_certs(import->cert, error);
		if (*certs == NULL)
			return FALSE;
	}
	if (import->pkcs12 == NULL && g_str_has_prefix(import->key, "pkcs11:")) {
		*pkey = fst_ca_ops_open_token_key(import->key, interaction, error);
		return *pkey != NULL;
	}
	for (guint attempt = 0; attempt < 2; attempt++) {
		gboolean ok;
		g_clear_error(&error_local);
		if (import->pkcs12 != NULL) {
			ok = fst_ca_store_read_pkcs12(
			    import->pkcs12, pass, pkey, certs, &error_local);
		} else {
			*pkey = fst_ca_store_read_key(import->key, pass, &error_local);
			ok = *pkey != NULL;
		}
		if (ok)
			return TRUE;
		if (pass != NULL || interaction == NULL ||
		    !g_error_matches(error_local, FST_ERROR, FST_ERROR_PERMISSION_DENIED))
			break;
		asked = fst_interaction_ask_passphrase(
		    interaction, description, FST_INTERACTION_FLAG_FOREIGN, NULL, error);
		if (asked == NULL)
			return FALSE;
		pass = asked;
	}
	g_propagate_error(error, g_steal_pointer(&error_local));
	return FALSE;
}

/**
 * fst_ca_ops_import:
 * @workspace: the workspace
 * @interaction: (nullable): asks for the passphrase of an encrypted key or
 *   PKCS#12 file, the PIN of a token key, and the passphrase that encrypts
 *   the key in the workspace (%FST_INTERACTION_FLAG_NEW); with %NULL, the
 *   workspace passphrase comes from the unattended default and an encrypted
 *   key or a token key without a pin-source is refused
 * @import: what to import: @cert and @key, or @pkcs12
 * @error: (nullable): return location
 *
 * Imports an existing issuing CA into WORKSPACE/ca: the key is stored
 * re-encrypted with the workspace passphrase, or, for a token key, as its URI
 * only. A wrong passphrase of the imported key is
 * %FST_ERROR_PERMISSION_DENIED, a workspace that has a CA %FST_ERROR_CONFIG,
 * neither or both of the key sources %FST_ERROR_INVALID_DATA.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_ops_import(const gchar *workspace,
                  FstInteraction *interaction,
                  const FstCaOpsImport *import,
                  GError **error)
{
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GPtrArray) more = NULL;
	g_autoptr(EVP_PKEY) pkey = NULL;
	g_autoptr(FstSecret) passphrase = NULL;
	gboolean in_token;

	if ((import->pkcs12 == NULL) == (import->cert == NULL || import->key == NULL)) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_INVALID_DATA,
		                    "give the CA certificate and its key, or a PKCS#12 file");
		return FALSE;
	}
	if (!fst_ca_ops_check_no_ca(workspace, error))
		return FALSE;
	in_token = import->pkcs12 == NULL && g_str_has_prefix(import->key, "pkcs11:");
	if (!fst_ca_ops_import_read(interaction, import, &pkey, &certs, error))
		return FALSE;
	if (import->chain != NULL) {
		more = fst_ca_store_read_certs(import->chain, error);
		if (more == NULL)
			return FALSE;
	}
	if (!in_token) {
		passphrase = fst_ca_ops_new_passphrase(workspace, interaction, error);
		if (passphrase == NULL)
			return FALSE;
	}
	return fst_ca_store_import(
	    ca_dir, certs, pkey, in_token ? import->key : NULL, more, passphrase, error);
}

/**
 * fst_ca_ops_revoke:
 * @workspace: the workspace
 * @serial_hex: the certificate serial, upper-case hex
 * @reason: an RFC 5280 CRLReason name (fst_ca_crl_reason_from_string())
 * @operator_name: (nullable): who revokes; %NULL for the default operator
 * @error: (nullable): return location
 *
 * Marks the certificate revoked, with the time and reason, and records a
 * `certificate-state` event. Revocation is final; fst_ca_ops_issue_crl()
 * publishes it. An unknown reason is %FST_ERROR_INVALID_DATA, an unknown
 * serial %FST_ERROR_NOT_FOUND.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_ops_revoke(const gchar *workspace,
                  const gchar *serial_hex,
                  const gchar *reason,
                  const gchar *operator_name,
                  GError **error)
{
	g_autoptr(FstDb) db = NULL;
	gint code = fst_ca_crl_reason_from_string(reason);

	if (code < 0) {
		g_autofree gchar *reasons = fst_ca_crl_reasons_list();
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "unknown revocation reason %s: it is one of %s",
		            reason,
		            reasons);
		return FALSE;
	}
	db = fst_ca_ops_open_db(workspace, operator_name, error);
	if (db == NULL)
		return FALSE;
	return fst_db_revoke_certificate(db, serial_hex, fst_ca_crl_reason_to_string(code), error);
}

/* opens an issuing CA a renewal retired, by its name in ca/ */
static FstCa *
fst_ca_ops_unlock_retired(const gchar *workspace,
                          FstInteraction *interaction,
                          const gchar *name,
                          GError **error)
{
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	g_autofree gchar *cert_file = g_strconcat(name, ".pem", NULL);
	g_autofree gchar *key_file = g_strconcat(name, ".key", NULL);
	g_autofree gchar *cert = g_build_filename(ca_dir, cert_file, NULL);
	g_autofree gchar *key = g_build_filename(ca_dir, key_file, NULL);
	g_autofree gchar *chain = g_build_filename(ca_dir, FST_CA_STORE_ROOT_CERT, NULL);
	g_autoptr(FstSecret) secret = NULL;

	if (!g_str_has_prefix(name, FST_CA_STORE_RETIRED_PREFIX) || strchr(name, '/') != NULL ||
	    !g_file_test(cert, G_FILE_TEST_EXISTS) || !g_file_test(key, G_FILE_TEST_EXISTS)) {
		g_set_error(
		    error,
		    FST_ERROR,
		    FST_ERROR_NOT_FOUND,
		    "%s is not a retired issuing CA of this workspace (with its key in %s): "
		    "`fleetstation ca list` names them",
		    name,
		    ca_dir);
		return NULL;
	}
	if (!fst_station_ask_ca_secret(
	        workspace, interaction, key, "retired issuing CA", &secret, error))
		return NULL;
	return fst_ca_load(
	    cert, key, g_file_test(chain, G_FILE_TEST_EXISTS) ? chain : NULL, secret, error);
}

/**
 * fst_ca_ops_issue_crl:
 * @workspace: the workspace
 * @interaction: (nullable): asks for the CA passphrase or PIN
 * @ca_name: (nullable): an issuing CA a renewal retired, by its name in ca/
 *   (`retired-issuing-ca-...`, as `ca list` shows it); %NULL for the
 *   issuing CA in service
 * @days: days until nextUpdate
 * @operator_name: (nullable): who issues it; %NULL for the default operator
 * @number: (out) (optional): the CRL number
 * @n_revoked: (out) (optional): how many certificates it lists
 * @error: (nullable): return location
 *
 * Issues the CRL of the issuing CA (or of @ca_name): every certificate it
 * signed that the database says is revoked, with the next CRL number
 * (`ca/crlnumber`, one sequence for all the workspace's CAs). A workspace
 * without a database gets an empty CRL; with one, a `crl-issue` event
 * records the number and the count.
 *
 * Returns: (transfer full): the CRL (DER), or %NULL with @error set
 */
GBytes *
fst_ca_ops_issue_crl(const gchar *workspace,
                     FstInteraction *interaction,
                     const gchar *ca_name,
                     guint days,
                     const gchar *operator_name,
                     guint64 *number,
                     guint *n_revoked,
                     GError **error)
{
	g_autofree gchar *ca_dir = g_build_filename(workspace, "ca", NULL);
	g_autofree gchar *db_path = g_build_filename(workspace, "station.db", NULL);
	g_autofree gchar *issuer_sha256 = NULL;
	g_autoptr(FstCa) ca = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GPtrArray) revoked = NULL;
	g_autoptr(GBytes) ca_der = NULL;
	g_autoptr(GBytes) crl = NULL;
	FstDbCertFilter filter = {0};
	guint64 crl_number = 0;

	ca = ca_name != NULL ? fst_ca_ops_unlock_retired(workspace, interaction, ca_name, error)
	                     : fst_station_unlock_ca(workspace, interaction, error);
	if (ca == NULL)
		return NULL;
	ca_der = fst_ca_get_cert_der(ca);
	issuer_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, ca_der);
	if (g_file_test(db_path, G_FILE_TEST_EXISTS)) {
		db = fst_ca_ops_open_db(workspace, operator_name, error);
		if (db == NULL)
			return NULL;
		filter.state = fst_cert_state_to_string(FST_CERT_STATE_REVOKED);
		filter.issuer_sha256 = issuer_sha256;
		revoked = fst_db_list_certificates(db, &filter, error);
		if (revoked == NULL)
			return NULL;
	} else {
		revoked = g_ptr_array_new();
	}
	if (!fst_ca_crl_next_number(ca_dir, &crl_number, error))
		return NULL;
	crl = fst_ca_crl_build(ca, revoked, crl_number, days, error);
	if (crl == NULL)
		return NULL;
	if (db != NULL) {
		gint64 now = g_get_real_time();
		g_autofree gchar *next = fst_time_count(days, "day");
		g_autofree gchar *detail =
		    g_strdup_printf("CRL number %" G_GUINT64_FORMAT " of issuing CA sha256 %s "
		                    "listing %u revoked certificate(s), next update in %s",
		                    crl_number,
		                    issuer_sha256,
		                    revoked->len,
		                    next);
		if (!fst_db_add_event(db, 0, "crl-issue", now, now, "ok", detail, error))
			return NULL;
	}
	if (number != NULL)
		*number = crl_number;
	if (n_revoked != NULL)
		*n_revoked = revoked->len;
	return g_steal_pointer(&crl);
}

/**
 * fst_ca_ops_export_escrow:
 * @workspace: the workspace
 * @serial_hex: the certificate serial, upper-case hex
 * @dest: the file the escrowed key goes to: created mode 0600, never over
 *   an existing file or through a link
 * @operator_name: (nullable): who takes the key out; %NULL for the default operator
 * @recipient_sha256: (out) (optional) (transfer full): the SHA-256 of the
 *   escrow certificate the key is encrypted to
 * @size: (out) (optional): bytes written
 * @error: (nullable): return location
 *
 * Hands out the escrowed private key of a device certificate, as stored: CMS
 * EnvelopedData encrypted to the profile's escrow certificate, which the
 * station cannot decrypt. The export is recorded as an `escrow-export` event;
 * when the event cannot be recorded the file is removed again.
 *
 * Returns: %TRUE on success
 */
gboolean
fst_ca_ops_export_escrow(const gchar *workspace,
                         const gchar *serial_hex,
                         const gchar *dest,
                         const gchar *operator_name,
                         gchar **recipient_sha256,
                         gsize *size,
                         GError **error)
{
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GBytes) cms = NULL;
	g_autofree gchar *recipient = NULL;
	g_autofree gchar *detail = NULL;
	gsize len = 0;
	const guint8 *data;
	gint64 now;

	db = fst_ca_ops_open_db(workspace, operator_name, error);
	if (db == NULL)
		return FALSE;
	cms = fst_db_get_escrow(db, serial_hex, &recipient, error);
	if (cms == NULL)
		return FALSE;
	data = g_bytes_get_data(cms, &len);
	/* whole or absent, never over a file or through a link */
	if (!fst_file_write_new(dest, data, len, 0600, error))
		return FALSE;
	/* an export is never unaudited: without its event the file goes again */
	now = g_get_real_time();
	detail = g_strdup_printf("certificate %s: escrowed key (to escrow certificate sha256 %s) "
	                         "exported to %s",
	                         serial_hex,
	                         recipient,
	                         dest);
	if (!fst_db_add_event(db, 0, "escrow-export", now, now, "ok", detail, error)) {
		g_unlink(dest);
		return FALSE;
	}
	if (recipient_sha256 != NULL)
		*recipient_sha256 = g_steal_pointer(&recipient);
	if (size != NULL)
		*size = len;
	return TRUE;
}

/* appends one certificate as PEM or DER */
static gboolean
fst_ca_ops_append_cert(GByteArray *out, X509 *cert, gboolean der, GError **error)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;
	gboolean ok = bio != NULL &&
	              (der ? i2d_X509_bio(bio, cert) == 1 : PEM_write_bio_X509(bio, cert) == 1) &&
	              BIO_get_mem_ptr(bio, &mem) == 1;
	if (!ok) {
		fst_error_set_openssl(error, FST_ERROR_INTERNAL, "cannot encode a certificate");
		return FALSE;
	}
	g_byte_array_append(out, (const guint8 *)mem->data, (guint)mem->length);
	return TRUE;
}

/**
 * fst_ca_ops_export_certificate:
 * @workspace: the workspace
 * @serial_hex: the certificate serial, upper-case hex
 * @flags: #FstCaOpsExportFlags
 * @dest: where the caller writes it (a file name, or "standard output"), for
 *   the audit event
 * @operator_name: (nullable): who exports it; %NULL for the default operator
 * @error: (nullable): return location
 *
 * Exports a device certificate the database holds, PEM (or DER), with
 * #FST_CA_OPS_EXPORT_CHAIN followed by the issuing CA and any intermediate
 * CA above it (the self-signed root is left out: verifiers have it). The
 * chain must be the workspace's issuing CA, the one that signed the
 * certificate. A `certificate-export` event records it. An unknown serial is
 * %FST_ERROR_NOT_FOUND; DER with a chain %FST_ERROR_INVALID_DATA.
 *
 * Returns: (transfer full): the bytes, or %NULL with @error set
 */
GBytes *
fst_ca_ops_export_certificate(const gchar *workspace,
                              const gchar *serial_hex,
                              FstCaOpsExportFlags flags,
                              const gchar *dest,
                              const gchar *operator_name,
                              GError **error)
{
	gboolean der = (flags & FST_CA_OPS_EXPORT_DER) != 0;
	gboolean chain = (flags & FST_CA_OPS_EXPORT_CHAIN) != 0;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(X509) cert = NULL;
	g_autofree gchar *detail = NULL;
	FstDbCertFilter filter = {0};
	FstDbCert *found = NULL;
	const guint8 *p;
	gsize len = 0;
	gint64 now;

	if (der && chain) {
		g_set_error_literal(error,
		                    FST_ERROR,
		                    FST_ERROR_INVALID_DATA,
		                    "a DER file holds one certificate: a chain is exported as PEM");
		return NULL;
	}
	db = fst_ca_ops_open_db(workspace, operator_name, error);
	if (db == NULL)
		return NULL;
	filter.serial_hex = serial_hex;
	certs = fst_db_list_certificates(db, &filter, error);
	if (certs == NULL)
		return NULL;
	if (certs->len > 0)
		found = g_ptr_array_index(certs, 0);
	if (found == NULL || found->der == NULL) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "no certificate with serial %s in the database",
		            serial_hex);
		return NULL;
	}
	p = g_bytes_get_data(found->der, &len);
	cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL) {
		fst_error_set_openssl(error,
		                      FST_ERROR_INVALID_DATA,
		                      "the certificate %s in the database does not parse",
		                      serial_hex);
		return NULL;
	}
	if (!fst_ca_ops_append_cert(out, cert, der, error))
		return NULL;
	if (chain) {
		g_autofree gchar *issuing_path =
		    g_build_filename(workspace, "ca", FST_CA_STORE_ISSUING_CERT, NULL);
		g_autofree gchar *root_path =
		    g_build_filename(workspace, "ca", FST_CA_STORE_ROOT_CERT, NULL);
		g_autoptr(GPtrArray) issuing = fst_ca_store_read_certs(issuing_path, error);
		g_autofree gchar *issuing_sha256 = NULL;
		guint8 *ca_der = NULL;
		gint ca_len;

		if (issuing == NULL)
			return NULL;
		ca_len = i2d_X509(g_ptr_array_index(issuing, 0), &ca_der);
		if (ca_len > 0) {
			issuing_sha256 =
			    g_compute_checksum_for_data(G_CHECKSUM_SHA256, ca_der, (gsize)ca_len);
			OPENSSL_free(ca_der);
		}
		if (g_ascii_strcasecmp(issuing_sha256 != NULL ? issuing_sha256 : "",
		                       found->issuer_sha256 != NULL ? found->issuer_sha256 : "") !=
		    0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_NOT_FOUND,
			            "certificate %s was issued by a CA (sha256 %s) that is not the "
			            "workspace's issuing CA %s: its chain is not here",
			            serial_hex,
			            found->issuer_sha256,
			            issuing_path);
			return NULL;
		}
		if (!fst_ca_ops_append_cert(out, g_ptr_array_index(issuing, 0), FALSE, error))
			return NULL;
		if (g_file_test(root_path, G_FILE_TEST_EXISTS)) {
			g_autoptr(GPtrArray) above = fst_ca_store_read_certs(root_path, error);
			if (above == NULL)
				return NULL;
			for (guint i = 0; i < above->len; i++) {
				X509 *ca = g_ptr_array_index(above, i);
				if (X509_self_signed(ca, 0) == 1)
					continue;
				if (!fst_ca_ops_append_cert(out, ca, FALSE, error))
					return NULL;
			}
		}
	}
	now = g_get_real_time();
	detail = g_strdup_printf("certificate %s exported (%s%s) to %s",
	                         found->serial_hex,
	                         der ? "DER" : "PEM",
	                         chain ? ", with its CA chain" : "",
	                         dest);
	if (!fst_db_add_event(db, 0, "certificate-export", now, now, "ok", detail, error))
		return NULL;
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}
