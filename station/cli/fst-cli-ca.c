/* SPDX-License-Identifier: Apache-2.0 */
/* fleetstation ca: create, import, install and list CAs; AWS verification
 * certificates and CRLs. The work is in fst-ca-store.c and fst-ca-crl.c. */

#define G_LOG_DOMAIN "FstCli"

#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "fst-aws-credentials.h"
#include "fst-aws-iot.h"
#include "fst-ca-crl.h"
#include "fst-ca-ops.h"
#include "fst-ca-store.h"
#include "fst-cli.h"
#include "fst-crypto.h"
#include "fst-db.h"
#include "fst-error.h"
#include "fst-openssl-common.h"
#include "fst-profile.h"
#include "fst-registration.h"
#include "fst-station.h"
#include "fst-time.h"

#define FST_CLI_CA_SECRETS FST_CLI_SECRETS_HELP

static const gchar *fst_cli_ca_usage_text =
    "Usage: fleetstation ca SUBCOMMAND [OPTION...]\n"
    "\n"
    "Subcommands:\n"
    "  create             make a root CA and an issuing CA (or, with --csr, an issuing CA\n"
    "                     key and request for an offline root to sign)\n"
    "  install            install the issuing CA certificate signed for `create --csr`\n"
    "                     or `renew --csr`\n"
    "  renew              replace the issuing CA with a new one under the same root,\n"
    "                     keeping the one before for the certificates it issued\n"
    "  import             import an existing issuing CA (PEM, DER, encrypted PKCS#8,\n"
    "                     PKCS#12, or a key in a PKCS#11 token)\n"
    "  list               show the workspace CAs, their keys, validity and use\n"
    "  verification-cert  AWS IoT proof of CA ownership from a registration code\n"
    "  register-aws       register the issuing CA with AWS IoT (RegisterCACertificate)\n"
    "  crl                a CRL of the revoked certificates, signed by the issuing CA\n"
    "\n"
    "Run `fleetstation ca SUBCOMMAND --help` for its options.\n";

typedef struct {
	gchar *workspace;
	gchar *passphrase_file;
	gchar *pin_file;
	gboolean json; /* --json, for the commands that take FST_CLI_CA_JSON_ENTRY */
} FstCliCaCommon;

static void
fst_cli_ca_common_clear(FstCliCaCommon *self)
{
	g_free(self->workspace);
	g_free(self->passphrase_file);
	g_free(self->pin_file);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstCliCaCommon, fst_cli_ca_common_clear)

static gchar *
fst_cli_ca_dir(FstCliCaCommon *common)
{
	if (common->workspace == NULL || !g_path_is_absolute(common->workspace)) {
		g_autofree gchar *ws = fst_cli_workspace(common->workspace);
		g_free(common->workspace);
		common->workspace = g_canonicalize_filename(ws, NULL);
	}
	return g_build_filename(common->workspace, "ca", NULL);
}

/* asks for secrets the same way as every command (fst-cli-interaction.c) */
static FstInteraction *
fst_cli_ca_interaction(FstCliCaCommon *common)
{
	g_autofree gchar *ca_dir = fst_cli_ca_dir(common);
	return fst_cli_interaction_new(
	    common->workspace, common->passphrase_file, common->pin_file);
}

static FstExit
fst_cli_ca_fail(const gchar *what, gboolean json, const GError *error)
{
	g_autofree gchar *command = g_strdup_printf("ca %s", what);
	return fst_cli_fail(command, json, error);
}

static FstExit
fst_cli_ca_usage(const gchar *what, gboolean json, const gchar *message)
{
	g_autofree gchar *command = g_strdup_printf("ca %s", what);
	return fst_cli_usage_error(command, json, message);
}

static gboolean
fst_cli_ca_parse(
    GOptionContext *context, const gchar *name, const gchar *description, gint *argc, gchar ***argv)
{
	g_autofree gchar *command = g_strdup_printf("ca %s", name);
	g_autofree gchar *prgname = g_strdup_printf("fleetstation %s", command);
	g_autofree gchar *desc =
	    g_strconcat(description, FST_CLI_CA_SECRETS, FST_CLI_EXIT_CODES, NULL);
	gboolean json = fst_cli_argv_wants_json(*argc, *argv);

	g_set_prgname(prgname);
	g_option_context_set_description(context, desc);
	if (!fst_cli_parse_context(context, command, argc, argv))
		return FALSE;
	if (*argc > 1) {
		g_autofree gchar *msg = g_strdup_printf("unexpected argument %s", (*argv)[1]);
		fst_cli_usage_error(command, json, msg);
		return FALSE;
	}
	return TRUE;
}

#define FST_CLI_CA_COMMON_ENTRIES(c)                                                               \
	{"workspace",                                                                              \
	 'w',                                                                                      \
	 0,                                                                                        \
	 G_OPTION_ARG_FILENAME,                                                                    \
	 &(c).workspace,                                                                           \
	 "Workspace (default: $FLEETSTATION_WORKSPACE, else $XDG_DATA_HOME/fleetstation)",         \
	 "DIR"},                                                                                   \
	    {"passphrase-file",                                                                    \
	     0,                                                                                    \
	     0,                                                                                    \
	     G_OPTION_ARG_FILENAME,                                                                \
	     &(c).passphrase_file,                                                                 \
	     "File (mode 0600) with the passphrase of the CA keys",                                \
	     "FILE"},                                                                              \
	{                                                                                          \
		"pin-file", 0, 0, G_OPTION_ARG_FILENAME, &(c).pin_file,                            \
		    "File (mode 0600) with the PIN of a PKCS#11 key", "FILE"                       \
	}

#define FST_CLI_CA_JSON_ENTRY(c)                                                                   \
	{                                                                                          \
		"json", 0, 0, G_OPTION_ARG_NONE, &(c).json,                                        \
		    "One JSON document on stdout (errors: a JSON error object)", NULL              \
	}

/* the --json document of create, renew, install and import: where the CAs
 * are, the subjects made (null when none was made), the CSR written for an
 * offline root, the name a renewed issuing CA is kept under, and the
 * workspace's CAs as `ca list` names them */
static FstExit
fst_cli_ca_print_done(const gchar *ca_dir,
                      const gchar *root_subject,
                      const gchar *subject,
                      const gchar *csr_path,
                      const gchar *retired)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GPtrArray) infos = fst_ca_store_list(ca_dir, &error_local);

	json_builder_begin_object(b);
	fst_cli_json_add_string(b, "ca_dir", ca_dir);
	fst_cli_json_add_string(b, "root_subject", root_subject);
	fst_cli_json_add_string(b, "subject", subject);
	fst_cli_json_add_string(b, "pending_csr", csr_path);
	fst_cli_json_add_string(b, "retired", retired);
	json_builder_set_member_name(b, "cas");
	json_builder_begin_array(b);
	for (guint i = 0; infos != NULL && i < infos->len; i++) {
		FstCaInfo *info = g_ptr_array_index(infos, i);
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "name", info->name);
		fst_cli_json_add_string(b, "subject", info->subject);
		fst_cli_json_add_string(b, "key", info->key);
		fst_cli_json_add_string(b, "key_store", info->key_store);
		fst_cli_json_add_time(b, "not_after", info->not_after * G_USEC_PER_SEC);
		fst_cli_json_add_string(b, "sha256", info->sha256);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	fst_cli_print_builder(b);
	return FST_EXIT_OK;
}

static FstExit
fst_cli_ca_create(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *organization = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *root_subject = NULL;
	g_autofree gchar *key_type = NULL;
	g_autofree gchar *root_key_type = NULL;
	g_autofree gchar *key_uri = NULL;
	g_autofree gchar *ca_dir = NULL;
	gint days = 7300;
	gint root_days = 9125;
	gint pathlen = 0;
	gint root_pathlen = -1;
	gboolean csr = FALSE;
	const GOptionEntry entries[] = {
	    FST_CLI_CA_COMMON_ENTRIES(common),
	    FST_CLI_CA_JSON_ENTRY(common),
	    {"organization",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &organization,
	     "O of the default subjects (default: fleetstation)",
	     "NAME"},
	    {"subject",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &subject,
	     "Issuing CA subject (default: /O=ORG/CN=ORG Issuing CA)",
	     "/O=../CN=.."},
	    {"root-subject",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &root_subject,
	     "Root CA subject (default: /O=ORG/CN=ORG Root CA)",
	     "/O=../CN=.."},
	    {"key-type",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &key_type,
	     "Issuing CA key: ec-p256 (default), ec-p384, ec-p521, rsa-2048, rsa-3072, rsa-4096",
	     "TYPE"},
	    {"root-key-type",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &root_key_type,
	     "Root CA key (default: the issuing key type)",
	     "TYPE"},
	    {"days", 0, 0, G_OPTION_ARG_INT, &days, "Issuing CA validity (default 7300)", "N"},
	    {"root-days",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &root_days,
	     "Root CA validity (default 9125)",
	     "N"},
	    {"pathlen",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &pathlen,
	     "Issuing CA pathLenConstraint, -1 for none (default 0)",
	     "N"},
	    {"root-pathlen",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &root_pathlen,
	     "Root CA pathLenConstraint, -1 for none (default)",
	     "N"},
	    {"csr",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &csr,
	     "Make only the issuing CA key and ca/issuing-ca.csr, for an offline root to sign; "
	     "then run `ca install`",
	     NULL},
	    {"key",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &key_uri,
	     "Use this key in a PKCS#11 token for the issuing CA (it never leaves the token)",
	     "pkcs11:URI"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- make the workspace CAs");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstInteraction) interaction = NULL;
	g_autofree gchar *made = NULL;
	g_autofree gchar *made_root = NULL;
	FstCaOpsCreate create;
	FstKeyType type;
	FstKeyType root_type;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(context,
	                      "create",
	                      "Makes the CAs in WORKSPACE/ca; existing CA files are never "
	                      "replaced.\n\n",
	                      &argc,
	                      &argv))
		return FST_EXIT_USAGE;
	type = fst_key_type_from_string(key_type != NULL ? key_type : "ec-p256");
	root_type = root_key_type != NULL ? fst_key_type_from_string(root_key_type) : type;
	if (type == FST_KEY_TYPE_NONE || root_type == FST_KEY_TYPE_NONE) {
		return fst_cli_ca_usage(
		    "create",
		    common.json,
		    "unknown key type: use ec-p256, ec-p384, ec-p521, rsa-2048, "
		    "rsa-3072 or rsa-4096");
	}
	if (days <= 0 || root_days <= 0) {
		return fst_cli_ca_usage(
		    "create", common.json, "--days and --root-days must be positive");
	}
	create = (FstCaOpsCreate){
	    .organization = organization,
	    .subject = subject,
	    .root_subject = root_subject,
	    .key_type = type,
	    .root_key_type = root_type,
	    .days = (guint)days,
	    .root_days = (guint)root_days,
	    .pathlen = pathlen,
	    .root_pathlen = root_pathlen,
	    .key = key_uri,
	    .flags = FST_CA_OPS_CREATE_ROOT_PATHLEN | (csr ? FST_CA_OPS_CREATE_CSR : 0),
	};
	ca_dir = fst_cli_ca_dir(&common);
	interaction = fst_cli_ca_interaction(&common);
	made = fst_ca_ops_create(common.workspace, interaction, &create, &made_root, &error);
	if (made == NULL)
		return fst_cli_ca_fail("create", common.json, error);
	if (csr) {
		g_autofree gchar *csr_path =
		    g_build_filename(ca_dir, FST_CA_STORE_ISSUING_CSR, NULL);
		if (common.json)
			return fst_cli_ca_print_done(ca_dir, NULL, made, csr_path, NULL);
		g_print("wrote %s: have it signed by the root CA (CA:TRUE, keyCertSign, cRLSign), "
		        "then run `fleetstation ca install --cert SIGNED.pem --chain ROOT.pem`\n",
		        csr_path);
		return FST_EXIT_OK;
	}
	if (common.json)
		return fst_cli_ca_print_done(ca_dir, made_root, made, NULL, NULL);
	g_print("created root CA %s and issuing CA %s in %s\n", made_root, made, ca_dir);
	return FST_EXIT_OK;
}

static FstExit
fst_cli_ca_install(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *cert = NULL;
	g_autofree gchar *chain = NULL;
	g_autofree gchar *ca_dir = NULL;
	g_autofree gchar *retired = NULL;
	const GOptionEntry entries[] = {
	    FST_CLI_CA_COMMON_ENTRIES(common),
	    FST_CLI_CA_JSON_ENTRY(common),
	    {"cert",
	     'c',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &cert,
	     "The signed issuing CA certificate (PEM or DER; a PEM may go on with its chain)",
	     "FILE"},
	    {"chain",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &chain,
	     "The certificates above it (PEM), the root last (a renewal: default ca/root-ca.pem)",
	     "FILE"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new(
	    "- install the certificate signed for `ca create --csr` or `ca renew --csr`");
	g_autoptr(GError) error = NULL;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(context, "install", "", &argc, &argv))
		return FST_EXIT_USAGE;
	if (cert == NULL) {
		return fst_cli_ca_usage("install", common.json, "--cert FILE is required");
	}
	ca_dir = fst_cli_ca_dir(&common);
	if (!fst_ca_ops_install(common.workspace, cert, chain, &retired, &error))
		return fst_cli_ca_fail("install", common.json, error);
	if (common.json)
		return fst_cli_ca_print_done(ca_dir, NULL, NULL, NULL, retired);
	if (retired != NULL)
		g_print("installed the renewed issuing CA in %s; the one before is kept as %s for "
		        "the certificates it issued\n",
		        ca_dir,
		        retired);
	else
		g_print("installed the issuing CA in %s\n", ca_dir);
	return FST_EXIT_OK;
}

static FstExit
fst_cli_ca_renew(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *subject = NULL;
	g_autofree gchar *key_type = NULL;
	g_autofree gchar *key_uri = NULL;
	g_autofree gchar *ca_dir = NULL;
	gint days = 0;
	gboolean csr = FALSE;
	const GOptionEntry entries[] = {
	    FST_CLI_CA_COMMON_ENTRIES(common),
	    FST_CLI_CA_JSON_ENTRY(common),
	    {"subject",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &subject,
	     "The new issuing CA's subject (default: the current one's)",
	     "/O=../CN=.."},
	    {"key-type",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &key_type,
	     "Its key: ec-p256, ec-p384, ec-p521, rsa-2048, rsa-3072, rsa-4096 (default: the "
	     "current one's)",
	     "TYPE"},
	    {"days",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &days,
	     "Its validity (default 7300, or up to the root's end if sooner)",
	     "N"},
	    {"csr",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &csr,
	     "Make only the new key and ca/issuing-ca.csr, for an offline root to sign; the "
	     "current CA serves until `ca install`",
	     NULL},
	    {"key",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &key_uri,
	     "Use this key in a PKCS#11 token for the new issuing CA",
	     "pkcs11:URI"},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- replace the issuing CA with a new one under the same root");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstInteraction) interaction = NULL;
	g_autofree gchar *made = NULL;
	g_autofree gchar *retired = NULL;
	FstCaOpsRenew renew = {0};

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(
	        context,
	        "renew",
	        "Makes a new issuing CA, with a new key, signed by the workspace's root CA "
	        "(ca/root-ca.key), for a CA near its end or a key to be changed. The CA it "
	        "replaces stays in ca/ as retired-issuing-ca-SHA256 for the certificates it "
	        "issued: they still chain to it, and `ca crl --ca NAME` publishes their "
	        "revocations. Stations started after the renewal issue with the new CA; register "
	        "it with AWS IoT (`ca register-aws`) before devices that register start with it. "
	        "With an offline root, --csr writes the request and `ca install` finishes.\n\n",
	        &argc,
	        &argv))
		return FST_EXIT_USAGE;
	if (key_type != NULL) {
		renew.key_type = fst_key_type_from_string(key_type);
		if (renew.key_type == FST_KEY_TYPE_NONE)
			return fst_cli_ca_usage("renew",
			                        common.json,
			                        "unknown key type: use ec-p256, ec-p384, ec-p521, "
			                        "rsa-2048, rsa-3072 or rsa-4096");
	}
	if (days < 0)
		return fst_cli_ca_usage("renew", common.json, "--days must be positive");
	if (csr && days > 0)
		return fst_cli_ca_usage(
		    "renew", common.json, "--days goes without --csr: the root's owner sets them");
	renew.subject = subject;
	renew.days = (guint)days;
	renew.key = key_uri;
	renew.csr = csr;
	ca_dir = fst_cli_ca_dir(&common);
	interaction = fst_cli_ca_interaction(&common);
	made = fst_ca_ops_renew(common.workspace, interaction, &renew, &retired, &error);
	if (made == NULL)
		return fst_cli_ca_fail("renew", common.json, error);
	if (csr) {
		g_autofree gchar *csr_path =
		    g_build_filename(ca_dir, FST_CA_STORE_ISSUING_CSR, NULL);
		if (common.json)
			return fst_cli_ca_print_done(ca_dir, NULL, made, csr_path, NULL);
		g_print("wrote %s: have it signed by the root CA (CA:TRUE, keyCertSign, cRLSign), "
		        "then run `fleetstation ca install --cert SIGNED.pem`; the issuing CA in "
		        "service stays so until then\n",
		        csr_path);
		return FST_EXIT_OK;
	}
	if (common.json)
		return fst_cli_ca_print_done(ca_dir, NULL, made, NULL, retired);
	g_print("renewed the issuing CA: %s in %s; the one before is kept as %s for the "
	        "certificates it issued. Register the new one with AWS IoT (`fleetstation ca "
	        "register-aws`) if the profiles register their certificates; stations running now "
	        "issue with the one before until they start again\n",
	        made,
	        ca_dir,
	        retired);
	return FST_EXIT_OK;
}

static FstExit
fst_cli_ca_import(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *cert = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *pkcs12 = NULL;
	g_autofree gchar *chain = NULL;
	g_autofree gchar *in_pass_file = NULL;
	g_autofree gchar *ca_dir = NULL;
	const GOptionEntry entries[] = {
	    FST_CLI_CA_COMMON_ENTRIES(common),
	    FST_CLI_CA_JSON_ENTRY(common),
	    {"cert",
	     'c',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &cert,
	     "The CA certificate (PEM or DER; a PEM may go on with its chain)",
	     "FILE"},
	    {"key",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &key,
	     "Its private key (PEM or DER, PKCS#8 encrypted or not), or a pkcs11: URI",
	     "FILE|URI"},
	    {"pkcs12",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &pkcs12,
	     "A PKCS#12 file with the key and certificate (instead of --cert and --key)",
	     "FILE"},
	    {"chain",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &chain,
	     "The certificates above the CA (PEM), the root last",
	     "FILE"},
	    {"in-passphrase-file",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &in_pass_file,
	     "File (0600) with the passphrase of the key or PKCS#12 file imported (default: a "
	     "prompt when needed)",
	     "FILE"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- import an existing issuing CA");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstSecret) in_pass = NULL;
	g_autoptr(FstInteraction) interaction = NULL;
	FstCaOpsImport import = {0};

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(context,
	                      "import",
	                      "The key is stored re-encrypted with the workspace passphrase "
	                      "(scrypt, AES-256), or, for a token key, as its URI only.\n\n",
	                      &argc,
	                      &argv))
		return FST_EXIT_USAGE;
	if ((pkcs12 == NULL) == (cert == NULL || key == NULL)) {
		return fst_cli_ca_usage(
		    "import", common.json, "give --cert and --key, or --pkcs12");
	}
	ca_dir = fst_cli_ca_dir(&common);
	if (in_pass_file != NULL) {
		in_pass = fst_secret_new_from_file(in_pass_file, &error);
		if (in_pass == NULL)
			return fst_cli_ca_fail("import", common.json, error);
	}
	import.cert = cert;
	import.key = key;
	import.pkcs12 = pkcs12;
	import.chain = chain;
	import.passphrase = in_pass;
	interaction = fst_cli_ca_interaction(&common);
	if (!fst_ca_ops_import(common.workspace, interaction, &import, &error))
		return fst_cli_ca_fail("import", common.json, error);
	if (common.json)
		return fst_cli_ca_print_done(ca_dir, NULL, NULL, NULL, NULL);
	g_print("imported the issuing CA into %s\n", ca_dir);
	return FST_EXIT_OK;
}

/* loads the workspace issuing CA, unlocking its key */
static FstCa *
fst_cli_ca_load(FstCliCaCommon *common, GError **error)
{
	g_autoptr(FstInteraction) interaction = fst_cli_ca_interaction(common);
	return fst_station_unlock_ca(common->workspace, interaction, error);
}

/*
 * the AWS registration state of a CA, as the database's registrations table
 * (db/schema.md) records it for the certificates that CA issued: "not
 * registered" without a row, else the rows counted by action and state.
 * Nothing is asked of AWS (registration is a later issue).
 */
static gchar *
fst_cli_ca_registration(FstDb *db, const gchar *issuer_sha256, GError **error)
{
	g_autoptr(GPtrArray) counts = NULL;
	g_autoptr(GString) state = g_string_new(NULL);

	counts = fst_db_count_registrations_by_issuer(db, issuer_sha256, error);
	if (counts == NULL)
		return NULL;
	for (guint i = 0; i < counts->len; i++) {
		FstDbRegistrationCount *count = g_ptr_array_index(counts, i);
		const gchar *action = "";

		if (g_strcmp0(count->action, "deactivate") == 0)
			action = "deactivation ";
		else if (g_strcmp0(count->action, "revoke") == 0)
			action = "revocation ";
		g_string_append_printf(state,
		                       "%s%" G_GINT64_FORMAT " %s%s",
		                       state->len > 0 ? ", " : "",
		                       count->count,
		                       action,
		                       count->state);
	}
	if (state->len == 0)
		return g_strdup("not registered");
	g_string_prepend(state, "certificate registrations: ");
	return g_string_free(g_steal_pointer(&state), FALSE);
}

static gchar *
fst_cli_ca_time(gint64 t)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d") : g_strdup("?");
}

static FstExit
fst_cli_ca_list(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *profile_name = NULL;
	g_autofree gchar *ca_dir = NULL;
	g_autofree gchar *db_path = NULL;
	g_autofree gchar *csr = NULL;
	gboolean renewal = FALSE;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    FST_CLI_CA_COMMON_ENTRIES(common),
	    {"profile",
	     'p',
	     0,
	     G_OPTION_ARG_STRING,
	     &profile_name,
	     "Also warn if the issuing CA ends before a certificate of this profile would",
	     "NAME"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON document on stdout", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- show the workspace CAs");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) infos = NULL;
	g_autoptr(FstDb) db = NULL;
	g_autoptr(JsonBuilder) b = json_builder_new();
	gint64 cert_not_after = 0;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(context,
	                      "list",
	                      "'issued' counts the certificates of the workspace database signed "
	                      "by each CA; 'AWS' counts their rows in the database's AWS IoT queue "
	                      "by state: registrations, deactivations and revocations ('not "
	                      "registered' without a row; `fleetstation register` works the "
	                      "queue). AWS itself is not asked.\n\n",
	                      &argc,
	                      &argv))
		return FST_EXIT_USAGE;
	ca_dir = fst_cli_ca_dir(&common);
	infos = fst_ca_store_list(ca_dir, &error);
	if (infos == NULL)
		return fst_cli_ca_fail("list", json, error);
	/* an issuing CA, or its renewal, waiting for `ca install` */
	csr = g_build_filename(ca_dir, FST_CA_STORE_ISSUING_CSR, NULL);
	{
		g_autofree gchar *cert = g_build_filename(ca_dir, FST_CA_STORE_ISSUING_CERT, NULL);
		g_autofree gchar *next =
		    g_build_filename(ca_dir, FST_CA_STORE_ISSUING_NEXT_KEY, NULL);
		renewal = g_file_test(next, G_FILE_TEST_EXISTS);
		if (!g_file_test(csr, G_FILE_TEST_EXISTS) ||
		    (g_file_test(cert, G_FILE_TEST_EXISTS) && !renewal))
			g_clear_pointer(&csr, g_free);
	}
	if (json) {
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "ca_dir", ca_dir);
		fst_cli_json_add_string(b, "pending_csr", csr);
		json_builder_set_member_name(b, "cas");
		json_builder_begin_array(b);
	} else if (csr != NULL && renewal) {
		g_print(
		    "issuing-ca renewal\n  waiting for its certificate: have %s signed, then run "
		    "`fleetstation ca install`; the issuing CA below serves until then\n",
		    csr);
	} else if (csr != NULL) {
		g_print("issuing-ca\n  waiting for its certificate: have %s signed, then run "
		        "`fleetstation ca install`\n",
		        csr);
	} else if (infos->len == 0) {
		g_print("no CA in %s: run `fleetstation ca create` or `ca import`\n", ca_dir);
	}
	if (profile_name != NULL) {
		g_autoptr(FstProfile) profile =
		    fst_station_find_profile(common.workspace, profile_name, &error);
		if (profile == NULL)
			return fst_cli_ca_fail("list", json, error);
		cert_not_after = fst_profile_get_not_after(profile, now);
	}
	db_path = g_build_filename(common.workspace, "station.db", NULL);
	if (g_file_test(db_path, G_FILE_TEST_EXISTS)) {
		db = fst_cli_open_db(common.workspace, &error);
		if (db == NULL)
			return fst_cli_ca_fail("list", json, error);
	}
	for (guint i = 0; i < infos->len; i++) {
		FstCaInfo *info = g_ptr_array_index(infos, i);
		g_autofree gchar *from = fst_cli_ca_time(info->not_before);
		g_autofree gchar *to = fst_cli_ca_time(info->not_after);
		g_autofree gchar *pathlen =
		    info->pathlen >= 0 ? g_strdup_printf("%d", info->pathlen) : g_strdup("none");
		gboolean retired = g_str_has_prefix(info->name, FST_CA_STORE_RETIRED_PREFIX);
		g_autofree gchar *days = fst_time_count((info->not_after - now) / 86400, "day");
		const gchar *left = info->not_after <= now          ? "expired"
		                    : info->not_after - now < 86400 ? "less than a day left"
		                                                    : NULL;
		g_autofree gchar *days_left =
		    left != NULL ? g_strdup(left) : g_strconcat(days, " left", NULL);
		g_autofree gchar *warning = NULL;
		g_autofree gchar *registration = NULL;
		gint64 issued = -1;

		if (db != NULL) {
			issued = fst_db_count_certificates_by_issuer(db, info->sha256, &error);
			if (issued < 0)
				return fst_cli_ca_fail("list", json, error);
			registration = fst_cli_ca_registration(db, info->sha256, &error);
			if (registration == NULL)
				return fst_cli_ca_fail("list", json, error);
		}
		if (g_strcmp0(info->name, "issuing-ca") == 0)
			warning = fst_ca_store_expiry_warning(info->not_after, cert_not_after, now);
		if (json) {
			json_builder_begin_object(b);
			fst_cli_json_add_string(b, "name", info->name);
			fst_cli_json_add_string(b, "subject", info->subject);
			json_builder_set_member_name(b, "self_signed");
			json_builder_add_boolean_value(b, info->self_signed);
			json_builder_set_member_name(b, "retired");
			json_builder_add_boolean_value(b, retired);
			json_builder_set_member_name(b, "pathlen");
			json_builder_add_int_value(b, info->pathlen);
			fst_cli_json_add_string(b, "key", info->key);
			fst_cli_json_add_string(b, "key_store", info->key_store);
			fst_cli_json_add_time(b, "not_before", info->not_before * G_USEC_PER_SEC);
			fst_cli_json_add_time(b, "not_after", info->not_after * G_USEC_PER_SEC);
			fst_cli_json_add_string(b, "sha256", info->sha256);
			fst_cli_json_add_string(b,
			                        "aws_registration",
			                        registration != NULL ? registration
			                                             : "not registered");
			json_builder_set_member_name(b, "issued");
			if (issued >= 0)
				json_builder_add_int_value(b, issued);
			else
				json_builder_add_null_value(b);
			fst_cli_json_add_string(b, "warning", warning);
			json_builder_end_object(b);
			continue;
		}
		g_print("%s\n"
		        "  subject:   %s\n"
		        "  role:      %s, pathlen %s\n"
		        "  key:       %s, %s\n"
		        "  validity:  %s to %s (%s)\n"
		        "  sha256:    %s (its AWS IoT certificate id)\n"
		        "  AWS:       %s\n",
		        info->name,
		        info->subject,
		        info->self_signed ? "root (self-signed)"
		        : retired ? "intermediate, retired by a renewal (issues nothing new)"
		                  : "intermediate",
		        pathlen,
		        info->key,
		        info->key_store,
		        from,
		        to,
		        days_left,
		        info->sha256 != NULL ? info->sha256 : "?",
		        registration != NULL ? registration : "not registered (no database)");
		if (issued >= 0)
			g_print("  issued:    %" G_GINT64_FORMAT "\n", issued);
		else
			g_print("  issued:    0 (no database)\n");
		if (warning != NULL)
			g_print("  WARNING:   %s\n", warning);
	}
	if (json) {
		json_builder_end_array(b);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	}
	return FST_EXIT_OK;
}

/* writes @data to @out (0644) or to stdout */
static gboolean
fst_cli_ca_output(const gchar *out, const gchar *data, gsize len, GError **error)
{
	if (out == NULL) {
		if (fwrite(data, 1, len, stdout) != len) {
			g_set_error(error, FST_ERROR, FST_ERROR_INTERNAL, "cannot write to stdout");
			return FALSE;
		}
		return TRUE;
	}
	if (!g_file_set_contents_full(
	        out, data, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, error)) {
		fst_error_convert_gio(error);
		return FALSE;
	}
	return TRUE;
}

static FstExit
fst_cli_ca_verification_cert(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *code = NULL;
	g_autofree gchar *out = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {FST_CLI_CA_COMMON_ENTRIES(common),
	                                {"code",
	                                 0,
	                                 0,
	                                 G_OPTION_ARG_STRING,
	                                 &code,
	                                 "The registration code (aws iot get-registration-code)",
	                                 "CODE"},
	                                {"out",
	                                 'o',
	                                 0,
	                                 G_OPTION_ARG_FILENAME,
	                                 &out,
	                                 "Write the PEM certificate here (default: stdout)",
	                                 "FILE"},
	                                {"json",
	                                 0,
	                                 0,
	                                 G_OPTION_ARG_NONE,
	                                 &json,
	                                 "Print one JSON document (the PEM in `pem`)",
	                                 NULL},
	                                {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- AWS IoT proof of ownership of the issuing CA");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = NULL;
	g_autoptr(X509) cert = NULL;
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem = NULL;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(context,
	                      "verification-cert",
	                      "Then: aws iot register-ca-certificate --ca-certificate "
	                      "file://WORKSPACE/ca/issuing-ca.pem --verification-cert "
	                      "file://FILE\n\n",
	                      &argc,
	                      &argv))
		return FST_EXIT_USAGE;
	if (code == NULL)
		return fst_cli_usage_error("ca verification-cert", json, "--code CODE is required");
	ca = fst_cli_ca_load(&common, &error);
	if (ca == NULL)
		return fst_cli_fail("ca verification-cert", json, error);
	cert = fst_ca_store_make_verification_cert(
	    code, fst_ca_get_cert(ca), fst_ca_get_key(ca), &error);
	if (cert == NULL)
		return fst_cli_fail("ca verification-cert", json, error);
	if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1 || BIO_get_mem_ptr(bio, &mem) != 1) {
		fst_error_set_openssl(&error, FST_ERROR_INTERNAL, "cannot encode the certificate");
		return fst_cli_fail("ca verification-cert", json, error);
	}
	if ((out != NULL || !json) && !fst_cli_ca_output(out, mem->data, mem->length, &error))
		return fst_cli_fail("ca verification-cert", json, error);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		g_autofree gchar *pem = g_strndup(mem->data, mem->length);
		json_builder_begin_object(b);
		fst_cli_json_add_string(b, "file", out);
		fst_cli_json_add_string(b, "pem", pem);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
	}
	return FST_EXIT_OK;
}

static FstExit
fst_cli_ca_crl(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *out = NULL;
	g_autofree gchar *ca_dir = NULL;
	g_autofree gchar *ca_name = NULL;
	gint days = 30;
	gboolean der = FALSE;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    FST_CLI_CA_COMMON_ENTRIES(common),
	    {"ca",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &ca_name,
	     "The CRL of an issuing CA a renewal retired, by its name in `ca list` (default: "
	     "the issuing CA in service)",
	     "NAME"},
	    {"out",
	     'o',
	     0,
	     G_OPTION_ARG_FILENAME,
	     &out,
	     "Write the CRL here (default: stdout)",
	     "FILE"},
	    {"days", 0, 0, G_OPTION_ARG_INT, &days, "Days until nextUpdate (default 30)", "N"},
	    {"der", 0, 0, G_OPTION_ARG_NONE, &der, "DER instead of PEM", NULL},
	    {"json",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &json,
	     "Print one JSON document (the PEM in `pem` without --out)",
	     NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- the CRL of the issuing CA, from the database");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstInteraction) interaction = NULL;
	g_autoptr(GBytes) crl_der = NULL;
	guint64 number = 0;
	guint n_revoked = 0;
	g_autofree gchar *pem_text = NULL;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(context,
	                      "crl",
	                      "Lists every certificate `fleetstation revoke` marked revoked that "
	                      "the issuing CA (or the retired one --ca names) signed; the CRL "
	                      "number goes up by one each time (WORKSPACE/ca/crlnumber).\n\n",
	                      &argc,
	                      &argv))
		return FST_EXIT_USAGE;
	if (days <= 0)
		return fst_cli_usage_error("ca crl", json, "--days must be positive");
	if (json && der && out == NULL)
		return fst_cli_usage_error("ca crl", json, "--json with --der needs --out FILE");
	ca_dir = fst_cli_ca_dir(&common);
	interaction = fst_cli_ca_interaction(&common);
	crl_der = fst_ca_ops_issue_crl(
	    common.workspace, interaction, ca_name, (guint)days, NULL, &number, &n_revoked, &error);
	if (crl_der == NULL)
		return fst_cli_fail("ca crl", json, error);
	if (der) {
		gsize len = 0;
		const gchar *data = g_bytes_get_data(crl_der, &len);
		if (!fst_cli_ca_output(out, data, len, &error))
			return fst_cli_fail("ca crl", json, error);
	} else {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(crl_der, &len);
		gsize pem_len = 0;
		g_autofree gchar *pem = fst_crypto_pem_encode("X509 CRL", data, len, &pem_len);
		if ((out != NULL || !json) && !fst_cli_ca_output(out, pem, pem_len, &error))
			return fst_cli_fail("ca crl", json, error);
		if (json)
			pem_text = g_strndup(pem, pem_len);
	}
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "crl_number");
		json_builder_add_int_value(b, (gint64)number);
		json_builder_set_member_name(b, "revoked");
		json_builder_add_int_value(b, n_revoked);
		fst_cli_json_add_string(b, "file", out);
		fst_cli_json_add_string(b, "pem", out == NULL ? pem_text : NULL);
		json_builder_end_object(b);
		fst_cli_print_builder(b);
		return FST_EXIT_OK;
	}
	if (out != NULL)
		g_print("wrote CRL number %" G_GUINT64_FORMAT
		        " with %u revoked certificate(s) to %s\n",
		        number,
		        n_revoked,
		        out);
	return FST_EXIT_OK;
}

/* ca register-aws: the code (fetched or given), the verification
 * certificate, RegisterCACertificate; recorded as an audit event */
static FstExit
fst_cli_ca_register_aws(gint argc, gchar **argv)
{
	g_auto(FstCliCaCommon) common = {0};
	g_autofree gchar *code = NULL;
	g_autofree gchar *aws_profile = NULL;
	g_autofree gchar *region = NULL;
	g_autofree gchar *endpoint = NULL;
	g_autofree gchar *jitp_file = NULL;
	g_autofree gchar *jitp = NULL;
	g_autofree gchar *role_arn = NULL;
	g_autofree gchar *detail = NULL;
	g_autofree gchar *db_path = NULL;
	gboolean sni_only = FALSE;
	const GOptionEntry entries[] = {
	    FST_CLI_CA_COMMON_ENTRIES(common),
	    {"code",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &code,
	     "The registration code (default: GetRegistrationCode)",
	     "CODE"},
	    {"sni-only",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &sni_only,
	     "Register without proof of possession (SNI_ONLY mode)",
	     NULL},
	    {"jitp-template",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &jitp_file,
	     "Allow just-in-time provisioning with this template body",
	     "FILE"},
	    {"role-arn", 0, 0, G_OPTION_ARG_STRING, &role_arn, "The role JITP runs as", "ARN"},
	    {"aws-profile", 0, 0, G_OPTION_ARG_STRING, &aws_profile, "AWS profile", "NAME"},
	    {"region", 0, 0, G_OPTION_ARG_STRING, &region, "AWS region", "REGION"},
	    {"endpoint-url",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &endpoint,
	     "Another AWS IoT endpoint",
	     "URL"},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    g_option_context_new("- register the issuing CA with AWS IoT");
	g_autoptr(GError) error = NULL;
	g_autoptr(FstCa) ca = NULL;
	g_autoptr(FstAwsCredentials) creds = NULL;
	g_autoptr(FstAwsIot) iot = NULL;
	g_autoptr(FstAwsCertificate) reg = NULL;
	gint64 started = g_get_real_time();

	g_option_context_add_main_entries(context, entries, NULL);
	if (!fst_cli_ca_parse(context, "register-aws", "", &argc, &argv))
		return FST_EXIT_USAGE;
	if (jitp_file != NULL && !g_file_get_contents(jitp_file, &jitp, NULL, &error)) {
		fst_error_convert_gio(&error);
		return fst_cli_ca_fail("register-aws", FALSE, error);
	}
	ca = fst_cli_ca_load(&common, &error);
	if (ca == NULL)
		return fst_cli_ca_fail("register-aws", FALSE, error);
	creds = fst_aws_credentials_load(aws_profile, region, endpoint, &error);
	if (creds == NULL)
		return fst_cli_ca_fail("register-aws", FALSE, error);
	iot = fst_aws_iot_new(creds, &error);
	if (iot == NULL)
		return fst_cli_ca_fail("register-aws", FALSE, error);
	reg = fst_registration_register_ca(iot,
	                                   fst_ca_get_cert(ca),
	                                   fst_ca_get_key(ca),
	                                   code,
	                                   sni_only,
	                                   jitp,
	                                   role_arn,
	                                   NULL,
	                                   &error);
	if (reg == NULL)
		return fst_cli_ca_fail("register-aws", FALSE, error);
	detail = g_strdup_printf("issuing CA registered with AWS IoT in %s as %s (%s)%s%s",
	                         fst_aws_iot_get_region(iot),
	                         reg->certificate_arn,
	                         sni_only ? "SNI_ONLY" : "with verification certificate",
	                         jitp != NULL ? ", just-in-time provisioning on" : "",
	                         reg->already_registered ? ", AWS had it already" : "");
	{
		g_autofree gchar *workspace = fst_cli_workspace(common.workspace);
		db_path = g_build_filename(workspace, "station.db", NULL);
	}
	if (g_file_test(db_path, G_FILE_TEST_EXISTS)) {
		g_autoptr(FstDb) db = fst_db_open(db_path, &error);
		if (db == NULL ||
		    !fst_db_add_event(
		        db, 0, "aws-register-ca", started, g_get_real_time(), "ok", detail, &error))
			return fst_cli_ca_fail("register-aws", FALSE, error);
	}
	g_print("%s\ncertificateId %s\n", detail, reg->certificate_id);
	return FST_EXIT_OK;
}

/**
 * fst_cli_ca:
 * @argc: arguments, argv[0] = "ca"
 * @argv: (array length=argc): the arguments
 *
 * `fleetstation ca SUBCOMMAND`.
 *
 * Returns: an exit code
 */
FstExit
fst_cli_ca(gint argc, gchar **argv)
{
	static const struct {
		const gchar *name;
		FstExit (*func)(gint argc, gchar **argv);
	} subs[] = {
	    {"create", fst_cli_ca_create},
	    {"install", fst_cli_ca_install},
	    {"renew", fst_cli_ca_renew},
	    {"import", fst_cli_ca_import},
	    {"list", fst_cli_ca_list},
	    {"verification-cert", fst_cli_ca_verification_cert},
	    {"register-aws", fst_cli_ca_register_aws},
	    {"crl", fst_cli_ca_crl},
	};

	if (argc < 2) {
		g_printerr("%s", fst_cli_ca_usage_text);
		return FST_EXIT_USAGE;
	}
	if (g_strcmp0(argv[1], "--help") == 0 || g_strcmp0(argv[1], "-h") == 0 ||
	    g_strcmp0(argv[1], "help") == 0) {
		g_print("%s\n%s", fst_cli_ca_usage_text, FST_CLI_EXIT_CODES);
		return FST_EXIT_OK;
	}
	for (guint i = 0; i < G_N_ELEMENTS(subs); i++) {
		if (g_strcmp0(argv[1], subs[i].name) == 0)
			return subs[i].func(argc - 1, argv + 1);
	}
	{
		g_autofree gchar *msg =
		    g_strdup_printf("unknown subcommand %s (see fleetstation ca --help)", argv[1]);
		if (!fst_cli_argv_wants_json(argc, argv))
			g_printerr("%s\n", fst_cli_ca_usage_text);
		return fst_cli_usage_error("ca", fst_cli_argv_wants_json(argc, argv), msg);
	}
}
