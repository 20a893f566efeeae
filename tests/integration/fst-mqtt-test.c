/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A device certificate and its key, as the station issues them, complete a
 * TLS 1.2 mutual-authentication handshake with a local mosquitto broker
 * (require_certificate true, cafile = the issuing chain, listening on
 * 127.0.0.1 only), through mosquitto_pub and through an mbedTLS client; a
 * device certificate from another CA is refused. The broker's own certificate
 * is issued by the station too, from a server-auth profile (DNS name
 * localhost, so clients connect to "localhost", which the broker serves on
 * 127.0.0.1).
 *
 * An nRF91 modem (fleetstation-nrf91sim over a pty) provisioned through the
 * nrf91 dialect connects with what it stores: its own key (made by
 * AT%KEYGEN), the client certificate and the root CA burned by AT%CMNG.
 *
 * Skipped when mosquitto or mosquitto_pub is not installed.
 */

#define G_LOG_DOMAIN "FstMqttTest"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fst-ca.h"
#include "fst-error.h"
#include "fst-nrf91-device.h"
#include "fst-serial-transport.h"
#include "fst-x509.h"
#include "fst-openssl-common.h"
#include "fst-test-pki.h"
#include "fst-test-skip.h"

typedef struct {
	gchar *dir;
	gchar *root;  /* our root CA */
	gchar *chain; /* issuing CA + root: the broker's cafile */
	guint port;
	GSubprocess *broker;
	FstCa *ca;
	FstCa *rogue;
	FstProfile *device_profile;
} FstMqtt;

static FstMqtt fst_mqtt;

static gint
fst_test_run(const gchar **argv_const)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) argv = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *cmd = NULL;
	gint status = 0;

	g_strv_builder_addv(builder, argv_const);
	argv = g_strv_builder_end(builder);
	cmd = g_strjoinv(" ", argv);
	g_assert_true(g_spawn_sync(
	    NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, NULL));
	g_test_message("$ %s\n%s%s", cmd, out, err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* a free TCP port on the loopback interface */
static guint
fst_test_free_port(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	guint port;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
	port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

static gboolean
fst_test_port_open(guint port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((guint16)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	gboolean ok;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

/* issues a certificate for a fresh key of @kind; writes DIR/NAME.crt (+ @extra_chain) and .key */
static void
fst_test_issue_files(FstCa *ca,
                     FstProfile *profile,
                     const gchar *uid,
                     const gchar *kind,
                     const gchar *name,
                     gboolean with_chain)
{
	g_autoptr(EVP_PKEY) key = fst_test_pki_keygen(kind);
	g_autoptr(GBytes) csr = fst_test_pki_csr(key, NULL);
	g_autoptr(FstDeviceInfo) info = fst_test_pki_device(uid, "test-board", 0);
	g_autoptr(GError) error = NULL;
	g_autoptr(FstIssuedCert) issued = fst_ca_issue_from_csr(ca, profile, info, csr, &error);
	g_autofree gchar *crt = g_strdup_printf("%s/%s.crt", fst_mqtt.dir, name);
	g_autofree gchar *key_path = g_strdup_printf("%s/%s.key", fst_mqtt.dir, name);
	g_autoptr(BIO) bio = NULL;

	g_assert_no_error(error);
	g_remove(crt);
	g_assert_true(fst_test_pki_write_pem(crt, issued->der, "CERTIFICATE"));
	if (with_chain) {
		g_autoptr(GPtrArray) chain = fst_ca_get_chain_der(ca);
		for (guint i = 0; i < chain->len; i++)
			g_assert_true(fst_test_pki_write_pem(
			    crt, g_ptr_array_index(chain, i), "CERTIFICATE"));
	}
	/* a test key in clear, readable by the broker's user */
	bio = BIO_new_file(key_path, "w");
	g_assert_nonnull(bio);
	g_assert_cmpint(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), ==, 1);
	BIO_flush(bio);
	g_chmod(crt, 0644);
	g_chmod(key_path, 0644);
}

static void
fst_test_mosquitto_pub(void)
{
	static const gchar *kinds[] = {"ec-p256", "rsa-2048", "ec-p384"};

	if (fst_mqtt.broker == NULL) {
		fst_test_skip_missing("mosquitto or mosquitto_pub is not installed");
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autofree gchar *name = g_strdup_printf("device-%s", kinds[i]);
		g_autofree gchar *crt = g_strdup_printf("%s/%s.crt", fst_mqtt.dir, name);
		g_autofree gchar *key = g_strdup_printf("%s/%s.key", fst_mqtt.dir, name);
		g_autofree gchar *port = g_strdup_printf("%u", fst_mqtt.port);
		const gchar *argv[] = {"mosquitto_pub",
		                       "-h",
		                       "localhost",
		                       "-p",
		                       port,
		                       "--cafile",
		                       fst_mqtt.root,
		                       "--cert",
		                       crt,
		                       "--key",
		                       key,
		                       "-t",
		                       "fleet/test",
		                       "-m",
		                       "hello",
		                       "-i",
		                       name,
		                       NULL};
		fst_test_issue_files(
		    fst_mqtt.ca, fst_mqtt.device_profile, "DEV1", kinds[i], name, FALSE);
		g_assert_cmpint(fst_test_run(argv), ==, 0);
	}
}

static void
fst_test_mbedtls_client(void)
{
	static const gchar *kinds[] = {"ec-p256", "rsa-2048"};

	if (fst_mqtt.broker == NULL) {
		fst_test_skip_missing("mosquitto or mosquitto_pub is not installed");
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autofree gchar *name = g_strdup_printf("mbed-%s", kinds[i]);
		g_autofree gchar *crt = g_strdup_printf("%s/%s.crt", fst_mqtt.dir, name);
		g_autofree gchar *key = g_strdup_printf("%s/%s.key", fst_mqtt.dir, name);
		g_autofree gchar *port = g_strdup_printf("%u", fst_mqtt.port);
		const gchar *argv[] = {FST_VERIFY_MBEDTLS,
		                       "connect",
		                       "127.0.0.1",
		                       port,
		                       fst_mqtt.root,
		                       crt,
		                       key,
		                       NULL};
		fst_test_issue_files(
		    fst_mqtt.ca, fst_mqtt.device_profile, "DEV2", kinds[i], name, FALSE);
		g_assert_cmpint(fst_test_run(argv), ==, 0);
	}
}

/* a certificate from another CA, and no certificate at all, are refused */
static void
fst_test_refused(void)
{
	g_autofree gchar *crt = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *port = NULL;

	if (fst_mqtt.broker == NULL) {
		fst_test_skip_missing("mosquitto or mosquitto_pub is not installed");
		return;
	}
	crt = g_strdup_printf("%s/rogue.crt", fst_mqtt.dir);
	key = g_strdup_printf("%s/rogue.key", fst_mqtt.dir);
	port = g_strdup_printf("%u", fst_mqtt.port);
	fst_test_issue_files(
	    fst_mqtt.rogue, fst_mqtt.device_profile, "EVIL", "ec-p256", "rogue", TRUE);
	{
		const gchar *pub[] = {"mosquitto_pub",
		                      "-h",
		                      "localhost",
		                      "-p",
		                      port,
		                      "--cafile",
		                      fst_mqtt.root,
		                      "--cert",
		                      crt,
		                      "--key",
		                      key,
		                      "-t",
		                      "fleet/test",
		                      "-m",
		                      "evil",
		                      NULL};
		const gchar *anon[] = {"mosquitto_pub",
		                       "-h",
		                       "localhost",
		                       "-p",
		                       port,
		                       "--cafile",
		                       fst_mqtt.root,
		                       "-t",
		                       "fleet/test",
		                       "-m",
		                       "anon",
		                       NULL};
		const gchar *mbed[] = {FST_VERIFY_MBEDTLS,
		                       "connect",
		                       "127.0.0.1",
		                       port,
		                       fst_mqtt.root,
		                       crt,
		                       key,
		                       NULL};
		g_assert_cmpint(fst_test_run(pub), !=, 0);
		g_assert_cmpint(fst_test_run(anon), !=, 0);
		g_assert_cmpint(fst_test_run(mbed), ==, 2);
	}
	/* and the broker still serves a good device afterwards */
	fst_test_mbedtls_client();
}

/* the modem's stored credential @type of @tag, written to DIR/@name */
static gchar *
fst_test_modem_credential(const gchar *store, guint32 tag, guint type, const gchar *name)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *group = g_strdup_printf("%u", tag);
	g_autofree gchar *key = g_strdup_printf("%u", type);
	g_autofree gchar *b64 = NULL;
	g_autofree guint8 *raw = NULL;
	gsize len = 0;
	gchar *path = g_strdup_printf("%s/%s", fst_mqtt.dir, name);

	g_assert_true(g_key_file_load_from_file(kf, store, G_KEY_FILE_NONE, NULL));
	b64 = g_key_file_get_string(kf, group, key, NULL);
	g_assert_nonnull(b64);
	raw = g_base64_decode(b64, &len);
	g_assert_true(g_file_set_contents(path, (const gchar *)raw, (gssize)len, NULL));
	g_chmod(path, 0644);
	return path;
}

/* an nRF91 modem provisioned through its AT commands: the key it made, the
 * certificate issued for its CSR and the root burned to its sec_tag are
 * what mosquitto accepts */
static void
fst_test_nrf91_modem(void)
{
	const guint32 tag = 16842753;
	g_autofree gchar *store = g_strdup_printf("%s/modem.store", fst_mqtt.dir);
	g_autofree gchar *port = g_strdup_printf("%u", fst_mqtt.port);
	g_autofree gchar *line = NULL;
	g_autofree gchar *root_text = NULL;
	g_autofree gchar *crt = NULL;
	g_autofree gchar *key = NULL;
	g_autofree gchar *cafile = NULL;
	g_autoptr(GSubprocess) sim = NULL;
	g_autoptr(GDataInputStream) out = NULL;
	g_autoptr(FstTransport) transport = NULL;
	g_autoptr(FstDevice) device = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) cert_pem = NULL;
	g_autoptr(GBytes) roots = NULL;
	g_autoptr(GBytes) digest = NULL;
	g_autoptr(GPtrArray) ders = g_ptr_array_new();
	g_autoptr(FstIssuedCert) issued = NULL;
	g_autoptr(GError) error = NULL;

	if (fst_mqtt.broker == NULL) {
		g_test_skip("mosquitto is not installed");
		return;
	}
	sim = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE,
	                       &error,
	                       g_getenv("FST_NRF91SIM"),
	                       "--imei",
	                       "352656100367811",
	                       "--storage",
	                       store,
	                       NULL);
	g_assert_no_error(error);
	out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(sim));
	line = g_data_input_stream_read_line(out, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(line, "READY /"));
	transport = fst_serial_transport_new(line + 6, 115200);
	device = fst_nrf91_device_new(transport);
	g_assert_true(fst_transport_open(transport, &error));
	g_assert_no_error(error);
	g_assert_true(fst_device_identify(device, NULL, &error));
	g_assert_no_error(error);
	csr = fst_device_generate_csr(device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	issued = fst_ca_issue_from_csr(
	    fst_mqtt.ca, fst_mqtt.device_profile, fst_device_get_info(device), csr, &error);
	g_assert_no_error(error);
	g_ptr_array_add(ders, issued->der);
	cert_pem = fst_x509_bundle_encode(ders, FST_CRED_FORMAT_PEM);
	g_assert_true(g_file_get_contents(fst_mqtt.root, &root_text, NULL, NULL));
	roots = g_bytes_new(root_text, strlen(root_text));
	g_assert_true(
	    fst_device_write_object(device, 0, FST_OBJECT_DEVICE_CERT, cert_pem, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(
	    fst_device_write_object(device, 0, FST_OBJECT_TRUST_ROOTS, roots, NULL, &error));
	g_assert_no_error(error);
	digest = fst_device_digest_object(device, 0, FST_OBJECT_DEVICE_CERT, NULL, NULL, &error);
	g_assert_no_error(error);
	fst_transport_close(transport);
	g_subprocess_send_signal(sim, SIGTERM);
	g_subprocess_wait(sim, NULL, NULL);

	/* the client connects with the modem's credentials, as stored */
	crt = fst_test_modem_credential(store, tag, 1, "modem.crt");
	key = fst_test_modem_credential(store, tag, 2, "modem.key");
	cafile = fst_test_modem_credential(store, tag, 0, "modem-roots.pem");
	{
		const gchar *argv[] = {"mosquitto_pub",
		                       "-h",
		                       "localhost",
		                       "-p",
		                       port,
		                       "--cafile",
		                       cafile,
		                       "--cert",
		                       crt,
		                       "--key",
		                       key,
		                       "-t",
		                       "fleet/modem",
		                       "-m",
		                       "hello",
		                       "-i",
		                       "modem",
		                       NULL};
		const gchar *mbed[] = {
		    FST_VERIFY_MBEDTLS, "connect", "127.0.0.1", port, cafile, crt, key, NULL};
		g_assert_cmpint(fst_test_run(argv), ==, 0);
		g_assert_cmpint(fst_test_run(mbed), ==, 0);
	}
}

static void
fst_test_broker_setup(gpointer user_data)
{
	(void)user_data;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static void
fst_test_setup(void)
{
	g_autoptr(EVP_PKEY) root_key = fst_test_pki_keygen("ec-p256");
	g_autoptr(EVP_PKEY) issuing_key = fst_test_pki_keygen("ec-p256");
	g_autoptr(EVP_PKEY) rogue_key = fst_test_pki_keygen("ec-p256");
	g_autoptr(X509) root = NULL;
	g_autoptr(X509) issuing = NULL;
	g_autoptr(X509) rogue = NULL;
	g_autoptr(FstProfile) server_profile = NULL;
	g_autoptr(GSubprocessLauncher) launcher = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conf = NULL;
	g_autofree gchar *conf_path = NULL;
	g_autofree gchar *tls_conf = NULL;
	g_autofree gchar *log_path = NULL;
	g_autofree gchar *issuing_pem = NULL;
	g_autofree gchar *root_text = NULL;
	g_autofree gchar *issuing_text = NULL;
	g_autofree gchar *mosquitto = g_find_program_in_path("mosquitto");
	g_autofree gchar *pub = g_find_program_in_path("mosquitto_pub");

	fst_mqtt.dir = g_dir_make_tmp("fst-mqtt-XXXXXX", NULL);
	g_assert_nonnull(fst_mqtt.dir);
	/* mosquitto started as root drops to its own user: it must read these */
	g_chmod(fst_mqtt.dir, 0755);
	root = fst_test_pki_make_ca(fst_mqtt.dir, "root", root_key, NULL, NULL, 3650);
	issuing = fst_test_pki_make_ca(fst_mqtt.dir, "issuing", issuing_key, root, root_key, 1825);
	rogue = fst_test_pki_make_ca(fst_mqtt.dir, "rogue-ca", rogue_key, NULL, NULL, 1825);
	fst_mqtt.ca = fst_test_pki_load_ca(fst_mqtt.dir, "issuing", "root");
	fst_mqtt.rogue = fst_test_pki_load_ca(fst_mqtt.dir, "rogue-ca", NULL);
	fst_mqtt.root = g_strdup_printf("%s/root.pem", fst_mqtt.dir);
	fst_mqtt.chain = g_strdup_printf("%s/chain.pem", fst_mqtt.dir);
	issuing_pem = g_strdup_printf("%s/issuing.pem", fst_mqtt.dir);
	g_assert_true(g_file_get_contents(issuing_pem, &issuing_text, NULL, NULL));
	g_assert_true(g_file_get_contents(fst_mqtt.root, &root_text, NULL, NULL));
	{
		g_autofree gchar *both = g_strconcat(issuing_text, root_text, NULL);
		g_assert_true(g_file_set_contents(fst_mqtt.chain, both, -1, NULL));
	}
	g_chmod(fst_mqtt.root, 0644);
	g_chmod(fst_mqtt.chain, 0644);

	/* device and broker certificates come from the station's own issuance */
	fst_mqtt.device_profile = fst_test_pki_profile(fst_mqtt.dir, "device", NULL);
	server_profile = fst_test_pki_profile(fst_mqtt.dir,
	                                      "server",
	                                      "[validity]\ndays=30\n[extensions]\n"
	                                      "ext-key-usage=server-auth\nsan-dns={uid}\n");
	fst_test_issue_files(fst_mqtt.ca, server_profile, "localhost", "ec-p256", "server", TRUE);

	if (mosquitto == NULL && g_file_test("/usr/sbin/mosquitto", G_FILE_TEST_IS_EXECUTABLE))
		mosquitto = g_strdup("/usr/sbin/mosquitto");
	if (mosquitto == NULL || pub == NULL)
		return;

	fst_mqtt.port = fst_test_free_port();
	/* as root, mosquitto would drop to its own user, which clears the parent-death
	 * signal: stay root so that the broker never outlives an aborted test */
	conf = g_strdup_printf("%s"
	                       "per_listener_settings false\n"
	                       "allow_anonymous true\n"
	                       "persistence false\n"
	                       "log_dest stderr\n"
	                       "log_type error\n"
	                       "log_type warning\n"
	                       "log_type notice\n"
	                       "listener %u 127.0.0.1\n"
	                       "cafile %s\n"
	                       "certfile %s/server.crt\n"
	                       "keyfile %s/server.key\n"
	                       "require_certificate true\n"
	                       "use_identity_as_username true\n"
	                       "tls_version tlsv1.2\n",
	                       geteuid() == 0 ? "user root\n" : "",
	                       fst_mqtt.port,
	                       fst_mqtt.chain,
	                       fst_mqtt.dir,
	                       fst_mqtt.dir);
	conf_path = g_strdup_printf("%s/mosquitto.conf", fst_mqtt.dir);
	g_assert_true(g_file_set_contents(conf_path, conf, -1, NULL));
	/* mosquitto 2.0's tls_version is a minimum: cap the broker at TLS 1.2 */
	tls_conf = g_strdup_printf("%s/openssl-tls12.cnf", fst_mqtt.dir);
	g_assert_true(g_file_set_contents(tls_conf,
	                                  "openssl_conf = default_conf\n"
	                                  "[default_conf]\nssl_conf = ssl_sect\n"
	                                  "[ssl_sect]\nsystem_default = system_default_sect\n"
	                                  "[system_default_sect]\nMinProtocol = TLSv1.2\n"
	                                  "MaxProtocol = TLSv1.2\n",
	                                  -1,
	                                  NULL));
	g_chmod(conf_path, 0644);
	g_chmod(tls_conf, 0644);
	/* the broker's log goes to a file, and the broker dies with the test, even on abort */
	launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	log_path = g_strdup_printf("%s/mosquitto.log", fst_mqtt.dir);
	g_subprocess_launcher_set_stderr_file_path(launcher, log_path);
	g_subprocess_launcher_set_child_setup(launcher, fst_test_broker_setup, NULL, NULL);
	g_subprocess_launcher_setenv(launcher, "OPENSSL_CONF", tls_conf, TRUE);
	fst_mqtt.broker =
	    g_subprocess_launcher_spawn(launcher, &error, mosquitto, "-c", conf_path, NULL);
	g_assert_no_error(error);
	for (guint i = 0; i < 100 && !fst_test_port_open(fst_mqtt.port); i++)
		g_usleep(50 * 1000);
	g_assert_true(fst_test_port_open(fst_mqtt.port));
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	fst_test_setup();
	g_test_add_func("/fst/mqtt/mosquitto-pub", fst_test_mosquitto_pub);
	g_test_add_func("/fst/mqtt/mbedtls-client", fst_test_mbedtls_client);
	g_test_add_func("/fst/mqtt/refuses-other-ca", fst_test_refused);
	g_test_add_func("/fst/mqtt/nrf91-modem-credentials", fst_test_nrf91_modem);
	rc = fst_test_run_skippable();
	if (fst_mqtt.broker != NULL) {
		g_subprocess_send_signal(fst_mqtt.broker, SIGTERM);
		g_subprocess_wait(fst_mqtt.broker, NULL, NULL);
		g_object_unref(fst_mqtt.broker);
	}
	fst_ca_free(fst_mqtt.ca);
	fst_ca_free(fst_mqtt.rogue);
	fst_profile_free(fst_mqtt.device_profile);
	fst_test_pki_rmrf(fst_mqtt.dir);
	g_free(fst_mqtt.dir);
	g_free(fst_mqtt.root);
	g_free(fst_mqtt.chain);
	return rc;
}
