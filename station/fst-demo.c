/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `fleetstation demo`: a workspace with a demo PKI, N simulated devices (each a
 * fleetstation-devsim process on its own pseudo-terminal, speaking FSP), and
 * a provisioning job (fst-job.c) over them through the real serial transport. The
 * demo devices are ECC-only boards: they make P-256 keys and their TLS stack
 * validates ECDSA P-256 chains, so Amazon Root CA 3 is their root.
 */

#define G_LOG_DOMAIN "FstDemo"

#include "fst-demo.h"

#include <errno.h>
#include <openssl/rand.h>
#include <signal.h>
#include <unistd.h>

#include "fst-config.h"
#include "fst-error.h"
#include "fst-file.h"
#include "fst-station.h"

/* how long a simulator may take to say READY */
#define FST_DEMO_SIM_START_TIMEOUT_S 10

typedef struct {
	GSubprocess *process; /* (owned) */
	gchar *uid;           /* (owned) */
	gchar *port;          /* (owned) */
} FstDemoSim;

static void
fst_demo_sim_free(FstDemoSim *sim)
{
	if (sim->process != NULL) {
		g_subprocess_send_signal(sim->process, SIGTERM);
		g_subprocess_wait(sim->process, NULL, NULL);
		g_object_unref(sim->process);
	}
	g_free(sim->uid);
	g_free(sim->port);
	g_free(sim);
}

/**
 * fst_demo_find_devsim:
 * @error: (nullable): return location
 *
 * Finds fleetstation-devsim: `$FST_DEVSIM`, then beside this executable (the
 * install tree's bin/), then the build tree's protocols/ when this executable
 * runs from the build tree, then `$PATH`.
 *
 * Returns: (transfer full): its path, or %NULL with %FST_ERROR_NOT_FOUND
 */
gchar *
fst_demo_find_devsim(GError **error)
{
	const gchar *env = g_getenv("FST_DEVSIM");
	g_autofree gchar *exe = g_file_read_link("/proc/self/exe", NULL);
	g_autofree gchar *dir = exe != NULL ? g_path_get_dirname(exe) : NULL;
	gchar *found;

	if (env != NULL && env[0] != '\0')
		return g_strdup(env);
	if (dir != NULL) {
		/* installed: beside this program; in the build tree: protocols/ */
		g_autofree gchar *beside = g_build_filename(dir, "fleetstation-devsim", NULL);
		g_autofree gchar *built =
		    g_build_filename(FST_BUILD_DIR, "protocols", "fleetstation-devsim", NULL);
		if (g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE))
			return g_canonicalize_filename(beside, NULL);
		if (g_str_has_prefix(exe, FST_BUILD_DIR "/") &&
		    g_file_test(built, G_FILE_TEST_IS_EXECUTABLE))
			return g_steal_pointer(&built);
	}
	found = g_find_program_in_path("fleetstation-devsim");
	if (found == NULL) {
		g_set_error_literal(
		    error,
		    FST_ERROR,
		    FST_ERROR_NOT_FOUND,
		    "cannot find fleetstation-devsim: build it, install it, or set FST_DEVSIM");
	}
	return found;
}

/* reads the simulator's "READY <pty>" line, or fails if it dies or stalls */
static gchar *
fst_demo_sim_wait_ready(FstDemoSim *sim, GError **error)
{
	GInputStream *out = g_subprocess_get_stdout_pipe(sim->process);
	gchar line[512];
	gsize len = 0;
	gint64 deadline = g_get_monotonic_time() + FST_DEMO_SIM_START_TIMEOUT_S * G_USEC_PER_SEC;

	/* byte by byte, so nothing after the line is consumed */
	while (len < sizeof(line) - 1) {
		g_autoptr(GError) error_local = NULL;
		guint8 c;
		gssize n;
		if (g_get_monotonic_time() > deadline) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_TIMED_OUT,
			            "simulated device %s did not start within %d s",
			            sim->uid,
			            FST_DEMO_SIM_START_TIMEOUT_S);
			return NULL;
		}
		n = g_input_stream_read(out, &c, 1, NULL, &error_local);
		if (n <= 0) {
			g_set_error(error,
			            FST_ERROR,
			            FST_ERROR_INTERNAL,
			            "simulated device %s exited before it was ready%s%s",
			            sim->uid,
			            error_local != NULL ? ": " : "",
			            error_local != NULL ? error_local->message : "");
			return NULL;
		}
		if (c == '\n')
			break;
		line[len++] = (gchar)c;
	}
	line[len] = '\0';
	if (!g_str_has_prefix(line, "READY /")) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PROTOCOL,
		            "simulated device %s said \"%s\" instead of READY",
		            sim->uid,
		            line);
		return NULL;
	}
	return g_strdup(line + strlen("READY "));
}

static FstDemoSim *
fst_demo_sim_start(const gchar *devsim,
                   const gchar *storage_dir,
                   const gchar *uid,
                   guint baud_rate,
                   GError **error)
{
	g_autoptr(GSubprocessLauncher) launcher =
	    g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE);
	g_autofree gchar *storage = g_strdup_printf("%s/%s.bin", storage_dir, uid);
	g_autofree gchar *baud = g_strdup_printf("%u", baud_rate);
	g_autofree gchar *self_pid = g_strdup_printf("%d", (gint)getpid());
	FstDemoSim *sim = g_new0(FstDemoSim, 1);

	/* a device gets no secret of the station: not the CA passphrase or PIN */
	g_subprocess_launcher_unsetenv(launcher, FST_ENV_CA_PASSPHRASE);
	/* lets the simulator notice a station that died while it started */
	g_subprocess_launcher_setenv(launcher, "FLEETSTATION_PARENT_PID", self_pid, TRUE);

	sim->uid = g_strdup(uid);
	sim->process = g_subprocess_launcher_spawn(launcher,
	                                           error,
	                                           devsim,
	                                           "--uid",
	                                           uid,
	                                           "--model",
	                                           "devsim-ecc",
	                                           "--key-types",
	                                           "ec-p256",
	                                           "--validation",
	                                           "ecdsa-p256",
	                                           "--storage",
	                                           storage,
	                                           "--baud",
	                                           baud,
	                                           NULL);
	if (sim->process == NULL) {
		fst_error_convert_gio(error);
		g_prefix_error(error, "starting %s: ", devsim);
		fst_demo_sim_free(sim);
		return NULL;
	}
	sim->port = fst_demo_sim_wait_ready(sim, error);
	if (sim->port == NULL) {
		fst_demo_sim_free(sim);
		return NULL;
	}
	return sim;
}

struct _FstDemo {
	GPtrArray *sims;  /* (element-type FstDemoSim) */
	GPtrArray *ports; /* (element-type utf8) (unowned): the sims' ptys, NULL-terminated */
};

/**
 * fst_demo_free:
 * @self: (nullable): a demo
 *
 * Stops the simulated devices.
 */
void
fst_demo_free(FstDemo *self)
{
	if (self == NULL)
		return;
	g_ptr_array_unref(self->ports);
	g_ptr_array_unref(self->sims);
	g_free(self);
}

/**
 * fst_demo_get_ports:
 * @self: a demo
 *
 * Returns: (transfer none) (array zero-terminated=1): the pseudo-terminals of
 * the simulated devices, one per device
 */
const gchar *const *
fst_demo_get_ports(FstDemo *self)
{
	return (const gchar *const *)self->ports->pdata;
}

/**
 * fst_demo_start:
 * @options: what to run
 * @error: (nullable): return location
 *
 * Initialises the workspace if needed (a demo PKI where it has no CA) and
 * starts the simulated devices, each on its own pseudo-terminal. They stop
 * with fst_demo_free(). The provisioning run over them is an #FstJob.
 *
 * Returns: (transfer full): the demo, or %NULL
 */
FstDemo *
fst_demo_start(const FstDemoOptions *options, GError **error)
{
	g_autoptr(FstDemo) self = g_new0(FstDemo, 1);
	g_autofree gchar *devsim = NULL;
	g_autofree gchar *storage_dir = NULL;
	guint8 run_id[3];

	fst_file_raise_open_limit();
	self->sims = g_ptr_array_new_with_free_func((GDestroyNotify)fst_demo_sim_free);
	self->ports = g_ptr_array_new();
	if (options->n_devices == 0 || options->n_devices > FST_DEMO_MAX_DEVICES) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CONFIG,
		            "--devices must be between 1 and %d",
		            FST_DEMO_MAX_DEVICES);
		return NULL;
	}
	devsim = options->devsim != NULL ? g_strdup(options->devsim) : fst_demo_find_devsim(error);
	if (devsim == NULL)
		return NULL;
	if (!fst_station_init_workspace(options->workspace, "Fleetstation Demo", error))
		return NULL;

	/* simulated devices keep their storage in the workspace */
	storage_dir = g_build_filename(options->workspace, "devsim", NULL);
	if (g_mkdir_with_parents(storage_dir, 0700) != 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "cannot create %s: %s",
		            storage_dir,
		            g_strerror(errno));
		return NULL;
	}
	/* fresh device ids on every run, as a line of new boards would have */
	if (RAND_bytes(run_id, sizeof(run_id)) != 1) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_INTERNAL, "the random number generator failed");
		return NULL;
	}
	for (guint i = 0; i < options->n_devices; i++) {
		g_autofree gchar *uid =
		    g_strdup_printf("SIM%02X%02X%02X-%04u", run_id[0], run_id[1], run_id[2], i + 1);
		FstDemoSim *sim =
		    fst_demo_sim_start(devsim, storage_dir, uid, options->baud_rate, error);
		if (sim == NULL)
			return NULL;
		g_ptr_array_add(self->sims, sim);
		g_ptr_array_add(self->ports, sim->port);
	}
	g_ptr_array_add(self->ports, NULL);
	return g_steal_pointer(&self);
}
