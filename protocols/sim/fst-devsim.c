/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation-devsim: a simulated FSP device on a pseudo-terminal.
 *
 * Runs the device SDK (protocols/sdk, the same codec as the station) with the
 * HAL of fst-devsim-hal.c. The command line is a contract with the demo and
 * the integration tests: see --help and protocols/fsp/README.md.
 */
#define G_LOG_DOMAIN "FstDevsim"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "fst-dev.h"
#include "fst-device.h"
#include "fst-devsim-hal.h"
#include "fst-error.h"

#include <openssl/crypto.h>

/* exit codes */
#define FST_DEVSIM_EXIT_OK 0
#define FST_DEVSIM_EXIT_ABSENT 1 /* --dump: no such object */
#define FST_DEVSIM_EXIT_USAGE 2
#define FST_DEVSIM_EXIT_FAILURE 3

static volatile sig_atomic_t fst_devsim_stop = 0;

/* line faults, deterministic from --seed: the same seed and the same station
 * give the same corrupted bytes */
typedef struct {
	GRand *rand; /* (not owned): main() owns it */
	gdouble bit_error_rate;
	gdouble drop_rate;
	guint64 disconnect_after; /* bytes received, 0 = never */
	guint64 stall_after;      /* bytes received, 0 = never */
	guint64 n_rx;
	guint n_bit_errors;
	guint n_dropped;
} FstDevsimFaults;

/* flips one bit of a byte, or drops it, at the configured rates */
static void
fst_devsim_faults_apply(FstDevsimFaults *faults, GByteArray *bytes)
{
	guint j = 0;
	if (faults->bit_error_rate <= 0 && faults->drop_rate <= 0)
		return;
	for (guint i = 0; i < bytes->len; i++) {
		guint8 b = bytes->data[i];
		if (faults->drop_rate > 0 && g_rand_double(faults->rand) < faults->drop_rate) {
			faults->n_dropped++;
			continue;
		}
		if (faults->bit_error_rate > 0 &&
		    g_rand_double(faults->rand) < faults->bit_error_rate) {
			b ^= (guint8)(1u << g_rand_int_range(faults->rand, 0, 8));
			faults->n_bit_errors++;
		}
		bytes->data[j++] = b;
	}
	g_byte_array_set_size(bytes, j);
}

static gboolean
fst_devsim_tx_filter(GByteArray *bytes, gpointer user_data)
{
	fst_devsim_faults_apply(user_data, bytes);
	return bytes->len > 0;
}

static void
fst_devsim_on_signal(int sig)
{
	(void)sig;
	fst_devsim_stop = 1;
}

static gboolean
fst_devsim_parse_key_types(const gchar *str, guint32 *out, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(str, ",", -1);
	*out = 0;
	for (guint i = 0; parts[i] != NULL; i++) {
		FstKeyType kt = fst_key_type_from_string(g_strstrip(parts[i]));
		if (kt == FST_KEY_TYPE_NONE) {
			g_set_error(
			    error,
			    FST_ERROR,
			    FST_ERROR_CONFIG,
			    "unknown key type '%s'; use ec-p256, ec-p384, ec-p521, rsa-2048, "
			    "rsa-3072 or rsa-4096",
			    parts[i]);
			return FALSE;
		}
		*out |= kt;
	}
	return TRUE;
}

static gboolean
fst_devsim_parse_validation(const gchar *str, guint32 *out, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(str, ",", -1);
	*out = 0;
	for (guint i = 0; parts[i] != NULL; i++) {
		const gchar *p = g_strstrip(parts[i]);
		if (g_strcmp0(p, "rsa") == 0)
			*out |= FST_VALIDATION_RSA_PKCS1;
		else if (g_strcmp0(p, "ecdsa-p256") == 0)
			*out |= FST_VALIDATION_ECDSA_P256;
		else if (g_strcmp0(p, "ecdsa-p384") == 0)
			*out |= FST_VALIDATION_ECDSA_P384;
		else {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "unknown validation '%s'; use rsa, ecdsa-p256 or ecdsa-p384",
			            p);
			return FALSE;
		}
	}
	return TRUE;
}

/* --dump slots: what each credential slot holds, and which one is active */
static int
fst_devsim_dump_slots(FstDevsimHal *hal)
{
	const guint8 certs[] = {FST_FSP_OBJ_DEVICE_CERT, FST_FSP_OBJ_DEVICE_CERT_B};
	const guint8 chains[] = {FST_FSP_OBJ_CA_CHAIN, FST_FSP_OBJ_CA_CHAIN_B};
	guint n = fst_devsim_hal_get_cred_slots(hal);

	/* a file of a one-slot device reads as slot B empty */
	printf("active-slot=%u\n", fst_devsim_hal_get_active_slot(hal));
	for (guint slot = 0; slot < n; slot++) {
		g_autoptr(GBytes) cert = fst_devsim_hal_get_object(hal, certs[slot]);
		g_autoptr(GBytes) chain = fst_devsim_hal_get_object(hal, chains[slot]);
		g_autoptr(GBytes) spki = fst_devsim_hal_get_public_key(hal, slot, FALSE);
		g_autofree gchar *spki_sha = NULL;
		if (spki != NULL)
			spki_sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, spki);
		printf("slot %c: device-cert=%" G_GSIZE_FORMAT " ca-chain=%" G_GSIZE_FORMAT
		       " key=%s key-sha256=%s\n",
		       'A' + slot,
		       cert != NULL ? g_bytes_get_size(cert) : 0,
		       chain != NULL ? g_bytes_get_size(chain) : 0,
		       spki != NULL ? fst_key_type_to_string(fst_devsim_hal_get_key_type(hal, slot))
		                    : "none",
		       spki_sha != NULL ? spki_sha : "none");
	}
	fflush(stdout);
	return FST_DEVSIM_EXIT_OK;
}

static int
fst_devsim_dump(const gchar *storage, const gchar *name, guint cred_slots)
{
	FstDevsimConfig config = {.uid = "dump", .storage_path = storage, .cred_slots = cred_slots};
	g_autoptr(FstDevsimHal) hal = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) data = NULL;
	guint8 id = 0;
	gsize len = 0;
	const guint8 *buf;

	if (g_strcmp0(name, "slots") != 0 && !fst_devsim_object_from_name(name, &id)) {
		g_printerr("unknown object '%s'; use device-cert, ca-chain, trust-roots, csr, "
		           "device-cert-b, ca-chain-b or slots\n",
		           name);
		return FST_DEVSIM_EXIT_USAGE;
	}
	if (!g_file_test(storage, G_FILE_TEST_EXISTS)) {
		g_printerr("%s does not exist; the device was never provisioned\n", storage);
		return FST_DEVSIM_EXIT_ABSENT;
	}
	hal = fst_devsim_hal_new(&config, &error);
	if (hal == NULL) {
		g_printerr("%s\n", error->message);
		return FST_DEVSIM_EXIT_FAILURE;
	}
	if (id == 0)
		return fst_devsim_dump_slots(hal);
	data = fst_devsim_hal_get_object(hal, id);
	if (data == NULL) {
		g_printerr("%s holds no %s\n", storage, name);
		return FST_DEVSIM_EXIT_ABSENT;
	}
	buf = g_bytes_get_data(data, &len);
	if (len > 0 && fwrite(buf, 1, len, stdout) != len) {
		g_printerr("cannot write to stdout: %s\n", g_strerror(errno));
		return FST_DEVSIM_EXIT_FAILURE;
	}
	fflush(stdout);
	return FST_DEVSIM_EXIT_OK;
}

static gboolean
fst_devsim_open_pty(int *master, int *slave, gchar **slave_path, GError **error)
{
	struct termios tio;
	char name[256] = {0};

	if (openpty(master, slave, name, NULL, NULL) != 0) {
		g_set_error(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "openpty failed: %s", g_strerror(errno));
		return FALSE;
	}
	/* raw on both sides: no echo, no line discipline on the binary frames */
	for (guint i = 0; i < 2; i++) {
		int fd = i == 0 ? *master : *slave;
		if (tcgetattr(fd, &tio) != 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "tcgetattr failed: %s",
			            g_strerror(errno));
			return FALSE;
		}
		cfmakeraw(&tio);
		if (tcsetattr(fd, TCSANOW, &tio) != 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "tcsetattr failed: %s",
			            g_strerror(errno));
			return FALSE;
		}
	}
	(void)fcntl(*master, F_SETFD, FD_CLOEXEC);
	(void)fcntl(*slave, F_SETFD, FD_CLOEXEC);
	*slave_path = g_strdup(name);
	return TRUE;
}

/* the [device] group of a model file (format: protocols/sim/README.md); a
 * value already set by an option is kept */
static gboolean
fst_devsim_load_model(const gchar *path,
                      gchar **model,
                      gchar **firmware,
                      gchar **key_types,
                      gchar **validation,
                      gchar **format,
                      gint *cap_cert,
                      gint *cap_chain,
                      gint *cap_roots,
                      gint *baud,
                      gint *cred_slots,
                      gboolean *no_csr,
                      gboolean *pubkey_only,
                      GError **error)
{
	const gchar *known[] = {"model",
	                        "firmware",
	                        "key-types",
	                        "validation",
	                        "format",
	                        "capacity-cert",
	                        "capacity-chain",
	                        "capacity-roots",
	                        "baud",
	                        "cred-slots",
	                        "key-injection-only",
	                        "no-csr",
	                        NULL};
	struct {
		const gchar *key;
		gchar **value;
	} strings[] = {{"model", model},
	               {"firmware", firmware},
	               {"key-types", key_types},
	               {"validation", validation},
	               {"format", format}};
	struct {
		const gchar *key;
		gint *value;
	} ints[] = {{"capacity-cert", cap_cert},
	            {"capacity-chain", cap_chain},
	            {"capacity-roots", cap_roots},
	            {"baud", baud},
	            {"cred-slots", cred_slots}};
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;
	g_auto(GStrv) groups = NULL;
	g_auto(GStrv) keys = NULL;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "cannot read the model file %s: %s",
		            path,
		            error_local->message);
		return FALSE;
	}
	groups = g_key_file_get_groups(kf, NULL);
	if (g_strv_length(groups) != 1 || g_strcmp0(groups[0], "device") != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "model file %s must have exactly one group, [device]",
		            path);
		return FALSE;
	}
	keys = g_key_file_get_keys(kf, "device", NULL, NULL);
	for (guint i = 0; keys[i] != NULL; i++) {
		if (!g_strv_contains(known, keys[i])) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "model file %s: unknown key %s",
			            path,
			            keys[i]);
			return FALSE;
		}
	}
	for (guint i = 0; i < G_N_ELEMENTS(strings); i++) {
		if (*strings[i].value == NULL)
			*strings[i].value =
			    g_key_file_get_string(kf, "device", strings[i].key, NULL);
	}
	for (guint i = 0; i < G_N_ELEMENTS(ints); i++) {
		gint v;
		if (*ints[i].value != -1 || !g_key_file_has_key(kf, "device", ints[i].key, NULL))
			continue;
		v = g_key_file_get_integer(kf, "device", ints[i].key, &error_local);
		if (error_local != NULL || v < 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "model file %s: %s must be a number of 0 or more",
			            path,
			            ints[i].key);
			return FALSE;
		}
		*ints[i].value = v;
	}
	if (!*pubkey_only && g_key_file_has_key(kf, "device", "no-csr", NULL)) {
		*pubkey_only = g_key_file_get_boolean(kf, "device", "no-csr", &error_local);
		if (error_local != NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "model file %s: no-csr must be true or false",
			            path);
			return FALSE;
		}
	}
	if (!*no_csr && g_key_file_has_key(kf, "device", "key-injection-only", NULL)) {
		*no_csr = g_key_file_get_boolean(kf, "device", "key-injection-only", &error_local);
		if (error_local != NULL) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_CONFIG,
			            "model file %s: key-injection-only must be true or false",
			            path);
			return FALSE;
		}
	}
	return TRUE;
}

/* the simulator's options; -1 or G_MININT64: not given, so that a model file,
 * then the default, decides */
typedef struct {
	gchar *uid;
	gchar *model;
	gchar *firmware;
	gchar *storage;
	gchar *key_types_str;
	gchar *validation_str;
	gchar *format_str;
	gchar *link_path;
	gchar *dump;
	/* G_MININT64: not given */
	gint64 seed;
	/* -1: not given; the model file, then the default, decides */
	gint cap_cert;
	gint cap_chain;
	gint cap_roots;
	gint baud;
	gint cred_slots;
	gchar *model_file;
	gint reboot_in_write;
	gint64 disconnect_after;
	gint64 stall_after;
	gint64 storage_limit;
	gdouble bit_error_rate;
	gdouble drop_rate;
	gboolean no_csr;
	gboolean pubkey_only;
	gboolean wrong_key;
	gboolean replay_signature;
	gboolean no_nak;
	gboolean no_digest;
	gint version_max;
	gchar *corrupt;
	gchar *fixed_key;
} FstDevsimOptions;

static void
fst_devsim_options_clear(FstDevsimOptions *o)
{
	g_free(o->uid);
	g_free(o->model);
	g_free(o->firmware);
	g_free(o->storage);
	g_free(o->key_types_str);
	g_free(o->validation_str);
	g_free(o->format_str);
	g_free(o->link_path);
	g_free(o->dump);
	g_free(o->model_file);
	g_free(o->corrupt);
	g_free(o->fixed_key);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(FstDevsimOptions, fst_devsim_options_clear)

static GOptionContext *
fst_devsim_option_context(FstDevsimOptions *o)
{
	GOptionContext *context;
	const GOptionEntry entries[] = {
	    {"model-file",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &o->model_file,
	     "Device model from a file (protocols/sim/models/*.model); options override it",
	     "FILE"},
	    {"uid",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->uid,
	     "Device unique id (printable ASCII, 1-64; default: derived from --seed)",
	     "UID"},
	    {"model",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->model,
	     "Model name (default devsim-ecc)",
	     "NAME"},
	    {"firmware",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->firmware,
	     "Firmware version (default 1.0.0)",
	     "VER"},
	    {"storage",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &o->storage,
	     "Persistent storage file (default: memory)",
	     "FILE"},
	    {"key-types",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->key_types_str,
	     "Key types it generates (default ec-p256,ec-p384)",
	     "LIST"},
	    {"validation",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->validation_str,
	     "What its TLS stack validates (default rsa,ecdsa-p256,ecdsa-p384)",
	     "LIST"},
	    {"format",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->format_str,
	     "Credential format, pem or der (default pem)",
	     "FMT"},
	    {"capacity-cert",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &o->cap_cert,
	     "Bytes for the device certificate (default 4096)",
	     "N"},
	    {"capacity-chain",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &o->cap_chain,
	     "Bytes for the CA chain (default 8192)",
	     "N"},
	    {"capacity-roots",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &o->cap_roots,
	     "Bytes for the trust roots (default 16384)",
	     "N"},
	    {"baud",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &o->baud,
	     "Throttle both directions to N/10 bytes/s (0 = off)",
	     "N"},
	    {"cred-slots",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &o->cred_slots,
	     "Credential slots: 1, or 2 for A/B slots (objects 0x04/0x05, ACTIVATE; default 1)",
	     "N"},
	    {"link",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &o->link_path,
	     "Symlink PATH to the pty slave",
	     "PATH"},
	    {"seed",
	     0,
	     0,
	     G_OPTION_ARG_INT64,
	     &o->seed,
	     "Seed for simulated randomness (fault injection)",
	     "N"},
	    {"dump",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->dump,
	     "Print a committed object from --storage and exit: device-cert, ca-chain, "
	     "trust-roots, "
	     "csr, device-cert-b, ca-chain-b (with --cred-slots 2), or 'slots' for what each "
	     "credential slot holds and which is active",
	     "OBJECT"},
	    {"no-csr",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &o->pubkey_only,
	     "Makes keys but cannot build a CSR: KEYGEN exports the public key only",
	     NULL},
	    {"no-nak",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &o->no_nak,
	     "Firmware before FSP document 1.4: corrupt frames are dropped silently, never "
	     "answered with a NAK",
	     NULL},
	    {"no-digest",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &o->no_digest,
	     "Firmware before FSP document 1.5: no DIGEST (the station reads objects back)",
	     NULL},
	    {"protocol-version",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &o->version_max,
	     "A firmware of a newer FSP major version N that also speaks version 1: HELLO "
	     "announces N and the range 1..N",
	     "N"},
	    {"key-injection-only",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &o->no_csr,
	     "No key generation or CSR: the station must send a key (PUT_KEY)",
	     NULL},
	    {"fault-bit-errors",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &o->bit_error_rate,
	     "Fault: flip one bit in this fraction of the bytes, both directions (e.g. 0.001)",
	     "RATE"},
	    {"fault-drop",
	     0,
	     0,
	     G_OPTION_ARG_DOUBLE,
	     &o->drop_rate,
	     "Fault: lose this fraction of the bytes, both directions",
	     "RATE"},
	    {"fault-disconnect-after",
	     0,
	     0,
	     G_OPTION_ARG_INT64,
	     &o->disconnect_after,
	     "Fault: unplug (close the pty and exit) after receiving N bytes",
	     "N"},
	    {"fault-stall-after",
	     0,
	     0,
	     G_OPTION_ARG_INT64,
	     &o->stall_after,
	     "Fault: hang (stay connected, answer nothing) after receiving N bytes",
	     "N"},
	    {"fault-reboot-in-write",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &o->reboot_in_write,
	     "Fault: reboot during the Nth WRITE (RAM and staging lost, storage kept), once",
	     "N"},
	    {"fault-corrupt",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &o->corrupt,
	     "Fault: answer OK to COMMIT of OBJECT but store a copy with one bit flipped",
	     "OBJECT"},
	    {"fault-wrong-key",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &o->wrong_key,
	     "Fault: sign challenges with another key than the one the CSR was made with",
	     NULL},
	    {"fault-replay-signature",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &o->replay_signature,
	     "Fault: answer every challenge after the first with the first one's signature",
	     NULL},
	    {"fault-fixed-key",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &o->fixed_key,
	     "Fault: a key generator that is not random: every KEYGEN gives the key in PEM",
	     "PEM"},
	    {"fault-storage-limit",
	     0,
	     0,
	     G_OPTION_ARG_INT64,
	     &o->storage_limit,
	     "Fault: the flash holds only N bytes in all, whatever the capacities announced",
	     "N"},
	    {NULL}};
	context = g_option_context_new("- simulated FSP device on a pseudo-terminal");
	g_option_context_set_summary(
	    context,
	    "Serves FSP v1 on a pty until SIGTERM/SIGINT. Prints one line "
	    "'READY <slave path>' once the port can be opened, and on exit one line "
	    "'STATS commands=N replays=N bad_frames=N naks=N bit_errors=N dropped=N compute_us=N' "
	    "(compute_us: time the device spent working, without the simulated wire).\n"
	    "Faults (--fault-*) are deterministic for a given --seed; see "
	    "protocols/sim/README.md.\n"
	    "Exit codes: 0 ok (also after --fault-disconnect-after), 1 --dump object absent, "
	    "2 usage, 3 failure.");
	g_option_context_add_main_entries(context, entries, NULL);
	return context;
}

int
main(int argc, char **argv)
{
	pid_t parent = getppid();
	const gchar *parent_env;
	g_autofree gchar *slave_path = NULL;
	g_auto(FstDevsimOptions) o = {.seed = G_MININT64,
	                              .cap_cert = -1,
	                              .cap_chain = -1,
	                              .cap_roots = -1,
	                              .baud = -1,
	                              .cred_slots = -1};
	FstDevsimFaults faults = {0};
	/* (owned): faults.rand, freed on every way out */
	g_autoptr(GRand) rand = NULL;
	gint64 compute_us = 0;
	int master = -1;
	int slave = -1;
	FstDevsimConfig config = {0};
	g_autoptr(FstDevsimHal) hal = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	FstDevCtx *ctx = NULL;
	struct sigaction sa;

	context = fst_devsim_option_context(&o);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s; see --help\n", error->message);
		return FST_DEVSIM_EXIT_USAGE;
	}
	if (o.dump != NULL) {
		if (o.storage == NULL) {
			g_printerr("--dump needs --storage FILE\n");
			return FST_DEVSIM_EXIT_USAGE;
		}
		/* the file says whether it holds slot B: --dump needs no model */
		return fst_devsim_dump(o.storage,
		                       o.dump,
		                       o.cred_slots > 0 ? (guint)o.cred_slots
		                                        : FST_FSP_CRED_SLOTS_MAX);
	}

	/* a simulated device is unplugged with its station: if the thread that
	 * started it dies (its process killed, even by SIGKILL), it goes too
	 * instead of lingering. The station may have died before this line: a
	 * station that names itself in FLEETSTATION_PARENT_PID closes that race */
	parent_env = g_getenv("FLEETSTATION_PARENT_PID");
	if (parent_env != NULL)
		parent = (pid_t)g_ascii_strtoll(parent_env, NULL, 10);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) {
		g_printerr("the station that started this simulator is gone\n");
		return FST_DEVSIM_EXIT_FAILURE;
	}

	/* a model file gives what the options did not */
	if (o.model_file != NULL && !fst_devsim_load_model(o.model_file,
	                                                   &o.model,
	                                                   &o.firmware,
	                                                   &o.key_types_str,
	                                                   &o.validation_str,
	                                                   &o.format_str,
	                                                   &o.cap_cert,
	                                                   &o.cap_chain,
	                                                   &o.cap_roots,
	                                                   &o.baud,
	                                                   &o.cred_slots,
	                                                   &o.no_csr,
	                                                   &o.pubkey_only,
	                                                   &error)) {
		g_printerr("%s\n", error->message);
		return FST_DEVSIM_EXIT_USAGE;
	}
	if (o.cap_cert == -1)
		o.cap_cert = FST_DEVSIM_CAPACITY_CERT;
	if (o.cap_chain == -1)
		o.cap_chain = FST_DEVSIM_CAPACITY_CHAIN;
	if (o.cap_roots == -1)
		o.cap_roots = FST_DEVSIM_CAPACITY_ROOTS;
	if (o.baud == -1)
		o.baud = 0;
	if (o.cred_slots == -1)
		o.cred_slots = 1;
	if (o.cred_slots < 1 || o.cred_slots > (gint)FST_FSP_CRED_SLOTS_MAX) {
		g_printerr("--cred-slots (or cred-slots in the model) must be 1 or 2\n");
		return FST_DEVSIM_EXIT_USAGE;
	}

	/* configuration: a board of a batch made from a seed gets an id from it,
	 * the same every time and different for every seed */
	if (o.uid == NULL && o.seed != G_MININT64) {
		g_autofree gchar *material =
		    g_strdup_printf("fleetstation-devsim-uid:%" G_GINT64_FORMAT, o.seed);
		g_autofree gchar *digest =
		    g_compute_checksum_for_string(G_CHECKSUM_SHA256, material, -1);
		g_autofree gchar *upper = g_ascii_strup(digest, 12);
		o.uid = g_strdup_printf("SIM-%s", upper);
	}
	if (o.seed == G_MININT64)
		o.seed = 0;
	if (o.uid == NULL) {
		g_printerr("--uid or --seed is required; see --help\n");
		return FST_DEVSIM_EXIT_USAGE;
	}
	config.uid = o.uid;
	config.model = o.model != NULL ? o.model : "devsim-ecc";
	config.firmware = o.firmware;
	config.storage_path = o.storage;
	config.key_types = FST_KEY_TYPE_EC_P256 | FST_KEY_TYPE_EC_P384;
	config.validation =
	    FST_VALIDATION_RSA_PKCS1 | FST_VALIDATION_ECDSA_P256 | FST_VALIDATION_ECDSA_P384;
	if (o.key_types_str != NULL &&
	    !fst_devsim_parse_key_types(o.key_types_str, &config.key_types, &error)) {
		g_printerr("%s\n", error->message);
		return FST_DEVSIM_EXIT_USAGE;
	}
	if (o.validation_str != NULL &&
	    !fst_devsim_parse_validation(o.validation_str, &config.validation, &error)) {
		g_printerr("%s\n", error->message);
		return FST_DEVSIM_EXIT_USAGE;
	}
	if (o.format_str == NULL || g_strcmp0(o.format_str, "pem") == 0) {
		config.format = FST_CRED_FORMAT_PEM;
	} else if (g_strcmp0(o.format_str, "der") == 0) {
		config.format = FST_CRED_FORMAT_DER;
	} else {
		g_printerr("--format must be pem or der\n");
		return FST_DEVSIM_EXIT_USAGE;
	}
	if (o.cap_cert < 0 || o.cap_chain < 0 || o.cap_roots < 0 || o.baud < 0) {
		g_printerr("capacities and --baud must not be negative\n");
		return FST_DEVSIM_EXIT_USAGE;
	}
	config.capacity_cert = (guint32)o.cap_cert;
	config.capacity_chain = (guint32)o.cap_chain;
	config.capacity_roots = (guint32)o.cap_roots;
	config.baud = (guint)o.baud;
	config.seed = (guint64)o.seed;
	config.no_csr = o.no_csr;
	config.pubkey_only = o.pubkey_only;
	config.cred_slots = (guint)o.cred_slots;
	if (o.bit_error_rate < 0 || o.bit_error_rate > 1 || o.drop_rate < 0 || o.drop_rate > 1 ||
	    o.disconnect_after < 0 || o.stall_after < 0 || o.reboot_in_write < 0 ||
	    o.storage_limit < 0 || o.storage_limit > G_MAXUINT32) {
		g_printerr("fault rates must be between 0 and 1, and counts not negative\n");
		return FST_DEVSIM_EXIT_USAGE;
	}
	if (o.corrupt != NULL &&
	    !fst_devsim_object_from_name(o.corrupt, &config.fault_corrupt_object)) {
		g_printerr("--fault-corrupt: unknown object '%s'; use device-cert, ca-chain or "
		           "trust-roots\n",
		           o.corrupt);
		return FST_DEVSIM_EXIT_USAGE;
	}
	config.fault_reboot_in_write = (guint)o.reboot_in_write;
	config.fault_storage_limit = (guint32)o.storage_limit;
	config.fault_wrong_key = o.wrong_key;
	config.fault_replay_signature = o.replay_signature;
	config.fault_fixed_key = o.fixed_key;
	config.no_nak = o.no_nak;
	config.no_digest = o.no_digest;
	if (o.version_max < 0 || o.version_max > 15) {
		g_printerr("--protocol-version must be between 1 and 15\n");
		return FST_DEVSIM_EXIT_USAGE;
	}
	config.version_max = (guint)o.version_max;
	faults.bit_error_rate = o.bit_error_rate;
	faults.drop_rate = o.drop_rate;
	faults.disconnect_after = (guint64)o.disconnect_after;
	faults.stall_after = (guint64)o.stall_after;
	{
		guint32 words[2] = {(guint32)((guint64)o.seed >> 32), (guint32)(guint64)o.seed};
		rand = g_rand_new_with_seed_array(words, 2);
		faults.rand = rand;
	}

	hal = fst_devsim_hal_new(&config, &error);
	if (hal == NULL) {
		g_printerr("%s\n", error->message);
		return FST_DEVSIM_EXIT_FAILURE;
	}
	ctx = g_new0(FstDevCtx, 1);
	if (fst_dev_init(ctx, fst_devsim_hal_get_hal(hal), fst_devsim_hal_get_identity(hal)) != 0) {
		g_printerr("the device identity is invalid: --uid, --model and --firmware must be "
		           "printable ASCII of at most %u characters\n",
		           FST_FSP_STRING_MAX);
		g_free(ctx);
		return FST_DEVSIM_EXIT_USAGE;
	}

	/* the crypto set-up a real device does at power-on, before the port is
	 * announced, not during the station's first command */
	if (!fst_devsim_hal_warm_up())
		g_warning("openssl does not work: key generation will fail");

	/* the port */
	if (!fst_devsim_open_pty(&master, &slave, &slave_path, &error)) {
		g_printerr("%s\n", error->message);
		g_free(ctx);
		return FST_DEVSIM_EXIT_FAILURE;
	}
	fst_devsim_hal_set_fd(hal, master);
	fst_devsim_hal_set_tx_filter(hal, fst_devsim_tx_filter, &faults);
	if (o.link_path != NULL) {
		GStatBuf st;
		/* replace a stale link from an earlier run, never a real file */
		if (g_lstat(o.link_path, &st) == 0) {
			if (!S_ISLNK(st.st_mode)) {
				g_printerr(
				    "%s exists and is not a symlink; choose another --link\n",
				    o.link_path);
				g_free(ctx);
				return FST_DEVSIM_EXIT_USAGE;
			}
			(void)g_unlink(o.link_path);
		}
		if (symlink(slave_path, o.link_path) != 0) {
			g_printerr("cannot link %s to %s: %s\n",
			           o.link_path,
			           slave_path,
			           g_strerror(errno));
			g_free(ctx);
			return FST_DEVSIM_EXIT_FAILURE;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fst_devsim_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	printf("READY %s\n", slave_path);
	fflush(stdout);

	/* serve until told to stop; the slave fd stays open here so the master
	 * never sees EIO while no station has the port open */
	while (!fst_devsim_stop) {
		struct pollfd pfd = {.fd = master, .events = POLLIN};
		guint8 buf[1024];
		g_autoptr(GByteArray) in = NULL;
		gint64 t0;
		gint64 throttled;
		ssize_t n;
		int rc = poll(&pfd, 1, 200);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			g_printerr("poll failed: %s\n", g_strerror(errno));
			break;
		}
		if (rc == 0)
			continue;
		n = read(master, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			g_printerr("reading the pty failed: %s\n",
			           n == 0 ? "end of file" : g_strerror(errno));
			break;
		}
		fst_devsim_hal_throttle(hal, (gsize)n);

		/* unplugged, or hung: both count bytes received */
		if (faults.stall_after != 0 && faults.n_rx + (guint64)n > faults.stall_after) {
			if (faults.n_rx <= faults.stall_after)
				g_message("fault: stalling after %" G_GUINT64_FORMAT " bytes",
				          faults.stall_after);
			faults.n_rx = faults.stall_after + 1;
			continue;
		}
		if (faults.disconnect_after != 0 &&
		    faults.n_rx + (guint64)n >= faults.disconnect_after) {
			n = (ssize_t)(faults.disconnect_after - faults.n_rx);
			faults.n_rx = faults.disconnect_after;
			if (n > 0)
				fst_dev_rx(ctx, buf, (size_t)n);
			g_message("fault: disconnecting after %" G_GUINT64_FORMAT " bytes",
			          faults.disconnect_after);
			fst_devsim_stop = 1;
			break;
		}
		faults.n_rx += (guint64)n;

		in = g_byte_array_sized_new((guint)n);
		g_byte_array_append(in, buf, (guint)n);
		fst_devsim_faults_apply(&faults, in);
		t0 = g_get_monotonic_time();
		throttled = fst_devsim_hal_get_throttle_us(hal);
		fst_dev_rx(ctx, in->data, in->len);
		compute_us +=
		    g_get_monotonic_time() - t0 - (fst_devsim_hal_get_throttle_us(hal) - throttled);
		/* the bytes may have held a PUT_KEY chunk */
		OPENSSL_cleanse(buf, sizeof(buf));
		OPENSSL_cleanse(in->data, in->len);

		/* a reboot loses all RAM state, the SDK's included */
		if (fst_devsim_hal_take_reboot(hal))
			(void)fst_dev_init(
			    ctx, fst_devsim_hal_get_hal(hal), fst_devsim_hal_get_identity(hal));
	}

	printf("STATS commands=%u replays=%u bad_frames=%u naks=%u bit_errors=%u dropped=%u "
	       "compute_us=%" G_GINT64_FORMAT "\n",
	       ctx->n_commands,
	       ctx->n_replays,
	       ctx->dec.n_bad_crc + ctx->dec.n_bad_cobs + ctx->dec.n_truncated +
	           ctx->dec.n_oversize + ctx->dec.n_bad_version,
	       ctx->n_naks,
	       faults.n_bit_errors,
	       faults.n_dropped,
	       compute_us);
	fflush(stdout);

	if (o.link_path != NULL)
		(void)g_unlink(o.link_path);
	close(slave);
	close(master);
	g_free(ctx);
	return fst_devsim_stop ? FST_DEVSIM_EXIT_OK : FST_DEVSIM_EXIT_FAILURE;
}
