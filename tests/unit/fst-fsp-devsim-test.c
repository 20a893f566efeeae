/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation-devsim against its command-line contract: READY line, --link,
 * FSP on the pty, persistent --storage, --dump, --baud, SIGTERM -> exit 0.
 * Needs FST_DEVSIM (set by ctest) pointing at the built simulator.
 */
#define G_LOG_DOMAIN "FstFspDevsimTest"

#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/x509.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-fsp-device.h"
#include "fst-openssl-common.h"
#include "fst-test-fd-transport.h"

typedef struct {
	GSubprocess *proc;
	gchar *slave;
	FstTransport *transport;
	FstDevice *device;
} Sim;

static void
sim_free(Sim *sim)
{
	g_clear_object(&sim->device);
	g_clear_object(&sim->transport);
	g_clear_object(&sim->proc);
	g_free(sim->slave);
	g_free(sim);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Sim, sim_free)

static Sim *
sim_start(const gchar *first_arg, ...)
{
	const gchar *devsim = g_getenv("FST_DEVSIM");
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDataInputStream) out = NULL;
	g_autofree gchar *line = NULL;
	Sim *sim = g_new0(Sim, 1);
	struct termios tio;
	va_list args;
	int fd;

	g_ptr_array_add(argv, g_strdup(devsim));
	va_start(args, first_arg);
	for (const gchar *a = first_arg; a != NULL; a = va_arg(args, const gchar *))
		g_ptr_array_add(argv, g_strdup(a));
	va_end(args);
	g_ptr_array_add(argv, NULL);
	sim->proc = g_subprocess_newv(
	    (const gchar *const *)argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
	g_assert_no_error(error);
	out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(sim->proc));
	line = g_data_input_stream_read_line(out, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "READY /dev/pts/"));
	sim->slave = g_strdup(line + strlen("READY "));

	fd = open(sim->slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(tcgetattr(fd, &tio), ==, 0);
	cfmakeraw(&tio);
	g_assert_cmpint(tcsetattr(fd, TCSANOW, &tio), ==, 0);
	sim->transport = fst_test_fd_transport_new(fd, sim->slave);
	g_assert_true(fst_transport_open(sim->transport, &error));
	sim->device = fst_fsp_device_new(sim->transport);
	return sim;
}

static void
sim_stop(Sim *sim)
{
	g_autoptr(GError) error = NULL;
	g_clear_object(&sim->device);
	g_clear_object(&sim->transport);
	g_subprocess_send_signal(sim->proc, SIGTERM);
	g_assert_true(g_subprocess_wait(sim->proc, NULL, &error));
	g_assert_no_error(error);
	g_assert_true(g_subprocess_get_if_exited(sim->proc));
	g_assert_cmpint(g_subprocess_get_exit_status(sim->proc), ==, 0);
}

/* runs --dump; returns its stdout, and its exit status in @status */
static GBytes *
sim_dump(const gchar *storage, const gchar *what, gint *status)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GBytes) out = NULL;

	p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
	                     &error,
	                     g_getenv("FST_DEVSIM"),
	                     "--storage",
	                     storage,
	                     "--dump",
	                     what,
	                     NULL);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate(p, NULL, NULL, &out, NULL, &error));
	g_assert_no_error(error);
	*status = g_subprocess_get_exit_status(p);
	return g_steal_pointer(&out);
}

static GBytes *
make_data(gsize len)
{
	guint8 *buf = g_malloc(len);
	for (gsize i = 0; i < len; i++)
		buf[i] = (guint8)(i * 31 + 7);
	return g_bytes_new_take(buf, len);
}

static void
test_contract(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmp = NULL;
	g_autofree gchar *storage = NULL;
	g_autofree gchar *link = NULL;
	g_autofree gchar *target = NULL;
	g_autoptr(Sim) sim = NULL;
	g_autoptr(Sim) sim2 = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) cert = make_data(1500);
	g_autoptr(GBytes) roots = make_data(4000);
	g_autoptr(GBytes) dumped = NULL;
	g_autoptr(GBytes) back = NULL;
	const FstDeviceInfo *info;
	GStatBuf st;
	gint status = -1;

	if (g_getenv("FST_DEVSIM") == NULL) {
		g_test_skip("FST_DEVSIM is not set");
		return;
	}
	tmp = g_dir_make_tmp("fst-devsim-XXXXXX", &error);
	g_assert_no_error(error);
	storage = g_build_filename(tmp, "device.store", NULL);
	link = g_build_filename(tmp, "ttyFSP0", NULL);

	sim = sim_start("--uid",
	                "SIM-42",
	                "--storage",
	                storage,
	                "--capacity-roots",
	                "3000",
	                "--link",
	                link,
	                "--key-types",
	                "ec-p256,rsa-2048",
	                "--format",
	                "der",
	                NULL);
	target = g_file_read_link(link, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(target, ==, sim->slave);

	g_assert_true(fst_device_identify(sim->device, NULL, &error));
	g_assert_no_error(error);
	info = fst_device_get_info(sim->device);
	g_assert_cmpstr(info->uid, ==, "SIM-42");
	g_assert_cmpstr(info->model, ==, "devsim-ecc");
	g_assert_cmpuint(info->key_types, ==, FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_RSA_2048);
	g_assert_cmpint(info->format, ==, FST_CRED_FORMAT_DER);
	g_assert_cmpuint(info->capacity[FST_OBJECT_TRUST_ROOTS], ==, 3000);

	/* a real key and CSR, the key never on the wire */
	csr = fst_device_generate_csr(sim->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
	g_assert_no_error(error);
	{
		const unsigned char *p = g_bytes_get_data(csr, NULL);
		g_autoptr(X509_REQ) req = d2i_X509_REQ(NULL, &p, (long)g_bytes_get_size(csr));
		g_assert_nonnull(req);
		g_assert_cmpint(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), ==, 1);
	}

	g_assert_true(
	    fst_device_write_object(sim->device, 0, FST_OBJECT_DEVICE_CERT, cert, NULL, &error));
	g_assert_no_error(error);
	g_assert_false(
	    fst_device_write_object(sim->device, 0, FST_OBJECT_TRUST_ROOTS, roots, NULL, &error));
	g_assert_error(error, FST_ERROR, FST_ERROR_STORAGE_FULL);
	g_clear_error(&error);
	sim_stop(sim);
	/* the link goes with the simulator */
	g_assert_false(g_file_test(link, G_FILE_TEST_EXISTS));

	/* storage: private, and --dump gives the committed bytes */
	g_assert_cmpint(g_stat(storage, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	dumped = sim_dump(storage, "device-cert", &status);
	g_assert_cmpint(status, ==, 0);
	g_assert_true(g_bytes_equal(dumped, cert));
	g_clear_pointer(&dumped, g_bytes_unref);
	dumped = sim_dump(storage, "csr", &status);
	g_assert_cmpint(status, ==, 0);
	g_assert_true(g_bytes_equal(dumped, csr));
	g_clear_pointer(&dumped, g_bytes_unref);
	dumped = sim_dump(storage, "trust-roots", &status);
	g_assert_cmpint(status, ==, 1);
	g_assert_cmpuint(g_bytes_get_size(dumped), ==, 0);

	/* re-plugged: the device keeps what it had */
	sim2 = sim_start("--uid", "SIM-42", "--storage", storage, NULL);
	back = fst_device_read_object(sim2->device, 0, FST_OBJECT_DEVICE_CERT, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(back, cert));
	sim_stop(sim2);

	g_unlink(storage);
	g_rmdir(tmp);
}

static void
test_baud_throttle(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(Sim) sim = NULL;
	g_autoptr(GBytes) cert = make_data(2048);
	gint64 start;
	gint64 elapsed_ms;
	guint64 bytes;

	if (g_getenv("FST_DEVSIM") == NULL) {
		g_test_skip("FST_DEVSIM is not set");
		return;
	}
	sim = sim_start("--uid", "SLOW-1", "--baud", "115200", NULL);
	fst_transport_set_baud_rate(sim->transport, 115200);
	g_assert_true(fst_device_identify(sim->device, NULL, &error));
	g_assert_no_error(error);
	bytes = fst_transport_get_bytes_written(sim->transport) +
	        fst_transport_get_bytes_read(sim->transport);
	start = g_get_monotonic_time();
	g_assert_true(
	    fst_device_write_object(sim->device, 0, FST_OBJECT_DEVICE_CERT, cert, NULL, &error));
	g_assert_no_error(error);
	elapsed_ms = (g_get_monotonic_time() - start) / 1000;
	bytes = fst_transport_get_bytes_written(sim->transport) +
	        fst_transport_get_bytes_read(sim->transport) - bytes;
	g_test_message("2 KiB at 115200 baud: %" G_GINT64_FORMAT " ms for %" G_GUINT64_FORMAT
	               " wire bytes",
	               elapsed_ms,
	               bytes);
	/* 2048 bytes + framing at 11520 bytes/s is at least 178 ms */
	g_assert_cmpint(elapsed_ms, >=, 175);
	g_assert_cmpint(elapsed_ms, <, 2000);
	sim_stop(sim);
}

static gpointer
identify_thread(gpointer data)
{
	Sim *sim = data;
	g_autoptr(GError) error = NULL;
	/* its outcome does not matter: it makes the simulator answer */
	(void)fst_device_identify(sim->device, NULL, &error);
	return NULL;
}

/* SIGTERM while the simulator spends the wire time of a long answer at a
 * slow rate (the IDENTIFY answer, about 160 bytes, is over 5 s at 300 baud):
 * it stops at once, not when that time is over */
static void
test_stop_while_throttled(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(Sim) sim = NULL;
	GThread *thread;
	gint64 start;

	if (g_getenv("FST_DEVSIM") == NULL) {
		g_test_skip("FST_DEVSIM is not set");
		return;
	}
	sim = sim_start("--uid", "SLOW-2", "--baud", "300", NULL);
	thread = g_thread_new("identify", identify_thread, sim);
	g_usleep(G_USEC_PER_SEC);
	start = g_get_monotonic_time();
	g_subprocess_send_signal(sim->proc, SIGTERM);
	g_assert_true(g_subprocess_wait(sim->proc, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_get_monotonic_time() - start, <, 2500 * 1000);
	g_assert_true(g_subprocess_get_if_exited(sim->proc));
	g_assert_cmpint(g_subprocess_get_exit_status(sim->proc), ==, 0);
	g_thread_join(thread);
}

static void
test_usage_errors(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) p = NULL;

	if (g_getenv("FST_DEVSIM") == NULL) {
		g_test_skip("FST_DEVSIM is not set");
		return;
	}
	/* no --uid: usage error, exit 2, nothing served */
	p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
	                     &error,
	                     g_getenv("FST_DEVSIM"),
	                     "--key-types",
	                     "ec-p256",
	                     NULL);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_wait(p, NULL, &error));
	g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 2);
	g_clear_object(&p);
	p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
	                     &error,
	                     g_getenv("FST_DEVSIM"),
	                     "--uid",
	                     "X",
	                     "--key-types",
	                     "ec-p999",
	                     NULL);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_wait(p, NULL, &error));
	g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 2);

	/* fault options out of range, or naming no object */
	{
		const gchar *bad[][2] = {{"--fault-bit-errors", "1.5"},
		                         {"--fault-drop", "-0.1"},
		                         {"--fault-corrupt", "csr-and-more"},
		                         {"--fault-stall-after", "-3"},
		                         {"--fault-storage-limit", "-1"}};
		for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
			g_clear_object(&p);
			p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
			                         G_SUBPROCESS_FLAGS_STDERR_SILENCE,
			                     &error,
			                     g_getenv("FST_DEVSIM"),
			                     "--uid",
			                     "X",
			                     bad[i][0],
			                     bad[i][1],
			                     NULL);
			g_assert_no_error(error);
			g_assert_true(g_subprocess_wait(p, NULL, &error));
			g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 2);
		}
	}
}

static gchar *
models_path(const gchar *name)
{
	return g_build_filename(
	    g_getenv("FST_TEMPLATES_DIR"), "..", "protocols", "sim", "models", name, NULL);
}

/* the shipped device models, and an option that overrides a model's value */
static void
test_model_files(void)
{
	struct {
		const gchar *file;
		const gchar *model;
		guint key_types;
		guint validation;
		FstCredFormat format;
		gboolean can_csr;
		guint32 cap_roots;
	} cases[] = {
	    {"ecc-p256.model",
	     "devsim-ecc",
	     FST_KEY_TYPE_EC_P256,
	     FST_VALIDATION_ECDSA_P256,
	     FST_CRED_FORMAT_PEM,
	     TRUE,
	     16384},
	    {"ecc-p384.model",
	     "devsim-ecc384",
	     FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_EC_P384,
	     FST_VALIDATION_ECDSA_P256 | FST_VALIDATION_ECDSA_P384,
	     FST_CRED_FORMAT_PEM,
	     TRUE,
	     16384},
	    {"rsa-2048.model",
	     "devsim-rsa",
	     FST_KEY_TYPE_RSA_2048,
	     FST_VALIDATION_RSA_PKCS1,
	     FST_CRED_FORMAT_PEM,
	     TRUE,
	     16384},
	    {"rsa-4096.model",
	     "devsim-rsa",
	     FST_KEY_TYPE_RSA_4096,
	     FST_VALIDATION_RSA_PKCS1,
	     FST_CRED_FORMAT_PEM,
	     TRUE,
	     16384},
	    {"both.model",
	     "devsim-ecc",
	     FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_RSA_2048,
	     FST_VALIDATION_RSA_PKCS1 | FST_VALIDATION_ECDSA_P256,
	     FST_CRED_FORMAT_PEM,
	     TRUE,
	     16384},
	    {"key-injection.model",
	     "devsim-inject",
	     FST_KEY_TYPE_EC_P256,
	     FST_VALIDATION_ECDSA_P256,
	     FST_CRED_FORMAT_DER,
	     FALSE,
	     16384},
	    {"small-storage.model",
	     "devsim-small",
	     FST_KEY_TYPE_EC_P256,
	     FST_VALIDATION_ECDSA_P256,
	     FST_CRED_FORMAT_DER,
	     TRUE,
	     512},
	    {"ecc-ab-slots.model",
	     "devsim-ecc-ab",
	     FST_KEY_TYPE_EC_P256,
	     FST_VALIDATION_ECDSA_P256,
	     FST_CRED_FORMAT_DER,
	     TRUE,
	     16384},
	};

	if (g_getenv("FST_DEVSIM") == NULL || g_getenv("FST_TEMPLATES_DIR") == NULL) {
		g_test_skip("FST_DEVSIM or FST_TEMPLATES_DIR is not set");
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *path = models_path(cases[i].file);
		g_autoptr(Sim) sim = sim_start("--uid", "MODEL-1", "--model-file", path, NULL);
		g_autoptr(GError) error = NULL;
		const FstDeviceInfo *info;

		g_assert_true(fst_device_identify(sim->device, NULL, &error));
		g_assert_no_error(error);
		info = fst_device_get_info(sim->device);
		g_assert_cmpstr(info->model, ==, cases[i].model);
		g_assert_cmpuint(info->key_types, ==, cases[i].key_types);
		g_assert_cmpuint(info->validation, ==, cases[i].validation);
		g_assert_cmpint(info->format, ==, cases[i].format);
		g_assert_cmpint(info->can_csr, ==, cases[i].can_csr);
		g_assert_cmpuint(info->capacity[FST_OBJECT_TRUST_ROOTS], ==, cases[i].cap_roots);
		g_assert_cmpuint(info->cred_slots,
		                 ==,
		                 g_strcmp0(cases[i].file, "ecc-ab-slots.model") == 0 ? 2 : 1);
		sim_stop(sim);
	}

	/* an option wins over the model file */
	{
		g_autofree gchar *path = models_path("rsa-2048.model");
		g_autoptr(Sim) sim = sim_start("--uid",
		                               "MODEL-2",
		                               "--model-file",
		                               path,
		                               "--format",
		                               "der",
		                               "--capacity-roots",
		                               "2000",
		                               NULL);
		g_autoptr(GError) error = NULL;
		const FstDeviceInfo *info;
		g_assert_true(fst_device_identify(sim->device, NULL, &error));
		info = fst_device_get_info(sim->device);
		g_assert_cmpint(info->format, ==, FST_CRED_FORMAT_DER);
		g_assert_cmpuint(info->capacity[FST_OBJECT_TRUST_ROOTS], ==, 2000);
		g_assert_cmpuint(info->key_types, ==, FST_KEY_TYPE_RSA_2048);
		sim_stop(sim);
	}
}

/* a model file that is missing, has an unknown key or a bad number: usage error */
static void
test_model_file_errors(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("fst-devsim-model-XXXXXX", NULL);
	const gchar *bad[] = {"[device]\nmodel=x\ncolour=blue\n",
	                      "[device]\ncapacity-roots=lots\n",
	                      "[device]\ncapacity-cert=-5\n",
	                      "[other]\nmodel=x\n",
	                      "[device]\nkey-injection-only=maybe\n",
	                      "[device]\ncred-slots=3\n"};

	if (g_getenv("FST_DEVSIM") == NULL) {
		g_test_skip("FST_DEVSIM is not set");
		return;
	}
	for (guint i = 0; i <= G_N_ELEMENTS(bad); i++) {
		g_autofree gchar *path = g_strdup_printf("%s/bad%u.model", dir, i);
		g_autoptr(GSubprocess) p = NULL;
		g_autoptr(GError) error = NULL;
		/* the last round: a file that does not exist */
		if (i < G_N_ELEMENTS(bad))
			g_assert_true(g_file_set_contents(path, bad[i], -1, NULL));
		p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
		                         G_SUBPROCESS_FLAGS_STDERR_SILENCE,
		                     &error,
		                     g_getenv("FST_DEVSIM"),
		                     "--uid",
		                     "X",
		                     "--model-file",
		                     path,
		                     NULL);
		g_assert_no_error(error);
		g_assert_true(g_subprocess_wait(p, NULL, &error));
		g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 2);
		g_unlink(path);
	}
	g_rmdir(dir);
}

/* a board made from a seed gets its id from it: stable per seed, distinct across seeds */
static void
test_uid_from_seed(void)
{
	gchar *uids[3] = {NULL, NULL, NULL};
	const gchar *seeds[3] = {"7", "7", "8"};

	if (g_getenv("FST_DEVSIM") == NULL) {
		g_test_skip("FST_DEVSIM is not set");
		return;
	}
	for (guint i = 0; i < 3; i++) {
		g_autoptr(Sim) sim = sim_start("--seed", seeds[i], NULL);
		g_autoptr(GError) error = NULL;
		g_assert_true(fst_device_identify(sim->device, NULL, &error));
		g_assert_no_error(error);
		uids[i] = g_strdup(fst_device_get_info(sim->device)->uid);
		sim_stop(sim);
	}
	g_assert_true(g_str_has_prefix(uids[0], "SIM-"));
	g_assert_cmpuint(strlen(uids[0]), ==, 16);
	g_assert_cmpstr(uids[0], ==, uids[1]);
	g_assert_cmpstr(uids[0], !=, uids[2]);
	for (guint i = 0; i < 3; i++)
		g_free(uids[i]);
}

static gchar *
dump_text(const gchar *storage, const gchar *what)
{
	gint status = -1;
	g_autoptr(GBytes) out = sim_dump(storage, what, &status);
	g_assert_cmpint(status, ==, 0);
	return g_strndup(g_bytes_get_data(out, NULL), g_bytes_get_size(out));
}

/* A/B credential slots on the real simulator: a storage file of a one-slot
 * device loads as slot A; slot B is written, activated, and the active slot
 * survives a restart; a reboot in the middle of a later write leaves both
 * slots and the active one as they were */
static void
test_ab_slots(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *tmp = NULL;
	g_autofree gchar *storage = NULL;
	g_autofree gchar *model = NULL;
	g_autofree gchar *file = NULL;
	g_autofree gchar *slots = NULL;
	g_autofree gchar *slots2 = NULL;
	g_autoptr(GBytes) cert_a = make_data(700);
	g_autoptr(GBytes) cert_b = make_data(1100);
	g_autoptr(GBytes) big = make_data(2500);
	g_autoptr(GBytes) dumped = NULL;
	g_autoptr(GBytes) back = NULL;
	gint status = -1;

	if (g_getenv("FST_DEVSIM") == NULL || g_getenv("FST_TEMPLATES_DIR") == NULL) {
		g_test_skip("FST_DEVSIM or FST_TEMPLATES_DIR is not set");
		return;
	}
	tmp = g_dir_make_tmp("fst-devsim-ab-XXXXXX", &error);
	g_assert_no_error(error);
	storage = g_build_filename(tmp, "device.store", NULL);
	model = models_path("ecc-ab-slots.model");

	/* a device provisioned by a one-slot simulator: its file has no trace
	 * of slots */
	{
		g_autoptr(Sim) sim = sim_start("--uid", "AB-1", "--storage", storage, NULL);
		g_autoptr(GBytes) csr =
		    fst_device_generate_csr(sim->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
		g_assert_no_error(error);
		g_assert_nonnull(csr);
		g_assert_true(fst_device_write_object(
		    sim->device, 0, FST_OBJECT_DEVICE_CERT, cert_a, NULL, &error));
		g_assert_no_error(error);
		sim_stop(sim);
	}
	g_assert_true(g_file_get_contents(storage, &file, NULL, NULL));
	g_assert_null(strstr(file, "active-slot"));
	g_assert_null(strstr(file, "[key-b]"));
	slots = dump_text(storage, "slots");
	g_assert_nonnull(strstr(slots, "active-slot=0\n"));
	g_assert_nonnull(strstr(slots, "slot A: device-cert=700 ca-chain=0 key=ec-p256"));
	g_assert_nonnull(strstr(slots, "slot B: device-cert=0 ca-chain=0 key=none"));

	/* the same device with A/B slots: slot A is what it had; B is written
	 * and activated */
	{
		g_autoptr(Sim) sim =
		    sim_start("--uid", "AB-1", "--storage", storage, "--model-file", model, NULL);
		g_autoptr(GBytes) csr = NULL;
		g_autoptr(GBytes) nonce =
		    g_bytes_new_static("0123456789abcdef0123456789abcdef", 32);
		g_autoptr(GBytes) msg = NULL;
		g_autoptr(GBytes) sig = NULL;
		g_assert_true(fst_device_identify(sim->device, NULL, &error));
		g_assert_no_error(error);
		g_assert_cmpuint(fst_device_get_info(sim->device)->cred_slots, ==, 2);
		g_assert_cmpuint(fst_device_get_info(sim->device)->active_slot, ==, 0);
		back = fst_device_read_object(sim->device, 0, FST_OBJECT_DEVICE_CERT, NULL, &error);
		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(back, cert_a));
		sig = fst_device_sign_challenge(sim->device, 0, nonce, &msg, NULL, &error);
		g_assert_no_error(error);
		csr = fst_device_generate_csr(sim->device, 1, FST_KEY_TYPE_EC_P256, NULL, &error);
		g_assert_no_error(error);
		g_assert_true(fst_device_write_object(
		    sim->device, 1, FST_OBJECT_DEVICE_CERT, cert_b, NULL, &error));
		g_assert_no_error(error);
		g_assert_true(fst_device_activate_slot(sim->device, 1, NULL, &error));
		g_assert_no_error(error);
		sim_stop(sim);
	}
	dumped = sim_dump(storage, "device-cert-b", &status);
	g_assert_cmpint(status, ==, 0);
	g_assert_true(g_bytes_equal(dumped, cert_b));
	slots2 = dump_text(storage, "slots");
	g_assert_nonnull(strstr(slots2, "active-slot=1\n"));
	g_assert_nonnull(strstr(slots2, "slot B: device-cert=1100 ca-chain=0 key=ec-p256"));
	/* slot A's line, key hash included, is what it was */
	{
		g_autofree gchar *a1 =
		    g_strndup(strstr(slots, "slot A:"), strcspn(strstr(slots, "slot A:"), "\n"));
		g_assert_nonnull(strstr(slots2, a1));
	}

	/* the station fails to read a one-slot device's slot B file with a
	 * one-slot model: the simulator refuses to start, naming the fix */
	{
		g_autoptr(GSubprocess) p = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
		                                                G_SUBPROCESS_FLAGS_STDERR_PIPE,
		                                            &error,
		                                            g_getenv("FST_DEVSIM"),
		                                            "--uid",
		                                            "AB-1",
		                                            "--storage",
		                                            storage,
		                                            NULL);
		g_autofree gchar *err = NULL;
		g_assert_no_error(error);
		g_assert_true(g_subprocess_communicate_utf8(p, NULL, NULL, NULL, &err, &error));
		g_assert_cmpint(g_subprocess_get_exit_status(p), ==, 3);
		g_assert_nonnull(strstr(err, "--cred-slots 2"));
	}

	/* restarted with a reboot in the second WRITE of the next rotation,
	 * into slot A: the device comes back on slot B, A as it was */
	{
		g_autoptr(Sim) sim = sim_start("--uid",
		                               "AB-1",
		                               "--storage",
		                               storage,
		                               "--model-file",
		                               model,
		                               "--fault-reboot-in-write",
		                               "2",
		                               NULL);
		g_autoptr(GBytes) csr = NULL;
		g_assert_true(fst_device_identify(sim->device, NULL, &error));
		g_assert_cmpuint(fst_device_get_info(sim->device)->active_slot, ==, 1);
		csr = fst_device_generate_csr(sim->device, 0, FST_KEY_TYPE_EC_P256, NULL, &error);
		g_assert_no_error(error);
		fst_fsp_device_set_timeout(FST_FSP_DEVICE(sim->device), 200);
		g_assert_false(fst_device_write_object(
		    sim->device, 0, FST_OBJECT_DEVICE_CERT, big, NULL, &error));
		g_assert_error(error, FST_ERROR, FST_ERROR_DISCONNECTED);
		g_clear_error(&error);
		g_assert_true(fst_device_identify(sim->device, NULL, &error));
		g_assert_cmpuint(fst_device_get_info(sim->device)->active_slot, ==, 1);
		sim_stop(sim);
	}
	g_free(file);
	file = dump_text(storage, "slots");
	g_assert_cmpstr(file, ==, slots2);

	g_unlink(storage);
	g_rmdir(tmp);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/fst/fsp/devsim/contract", test_contract);
	g_test_add_func("/fst/fsp/devsim/baud-throttle", test_baud_throttle);
	g_test_add_func("/fst/fsp/devsim/stop-while-throttled", test_stop_while_throttled);
	g_test_add_func("/fst/fsp/devsim/usage-errors", test_usage_errors);
	g_test_add_func("/fst/fsp/devsim/model-files", test_model_files);
	g_test_add_func("/fst/fsp/devsim/uid-from-seed", test_uid_from_seed);
	g_test_add_func("/fst/fsp/devsim/model-file-errors", test_model_file_errors);
	g_test_add_func("/fst/fsp/devsim/ab-slots", test_ab_slots);
	return g_test_run();
}
