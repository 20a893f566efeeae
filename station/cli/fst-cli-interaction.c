/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FstCliInteraction: the CLI's answer to the engine's requests for a secret,
 * the same for every command: the option file (--passphrase-file, --pin-file),
 * then what an unattended station has ($FLEETSTATION_CA_PASSPHRASE, then
 * WORKSPACE/ca/passphrase for a passphrase), then a prompt on the terminal
 * with echo off. A server password (the central registry's database user)
 * is asked on the terminal only.
 */

#define G_LOG_DOMAIN "FstCli"

#include "fst-cli.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "fst-error.h"

struct _FstCliInteraction {
	FstInteraction parent_instance;
	gchar *passphrase_file; /* (owned) (nullable) */
	gchar *pin_file;        /* (owned) (nullable) */
};

G_DEFINE_TYPE(FstCliInteraction, fst_cli_interaction, FST_TYPE_INTERACTION)

/* reads one line from an open terminal with echo off, byte by byte into a wiped buffer */
static FstSecret *
fst_cli_read_tty(gint fd, const gchar *prompt, GError **error)
{
	guint8 buf[1024];
	gsize len = 0;
	struct termios old_tio;
	struct termios tio;
	gboolean restore = FALSE;
	FstSecret *secret = NULL;

	if (tcgetattr(fd, &old_tio) == 0) {
		tio = old_tio;
		tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		tio.c_lflag |= ICANON;
		restore = tcsetattr(fd, TCSAFLUSH, &tio) == 0;
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		g_debug("cannot write the prompt: %s", g_strerror(errno));
	for (;;) {
		guint8 c;
		gssize n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n' || c == '\r')
			break;
		if (len < sizeof(buf))
			buf[len++] = c;
	}
	if (write(fd, "\n", 1) < 0)
		g_debug("cannot end the prompt line: %s", g_strerror(errno));
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old_tio);

	if (len == 0) {
		g_set_error_literal(
		    error, FST_ERROR, FST_ERROR_INVALID_DATA, "empty secret: nothing was typed");
	} else if (len == sizeof(buf)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_INVALID_DATA,
		            "the secret is too long (at most %u bytes)",
		            (guint)sizeof(buf) - 1);
	} else {
		secret = fst_secret_new(buf, len);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return secret;
}

/* reads a secret from the controlling terminal (`/dev/tty`) with echo off, as
 * ssh-keygen does, asked again with @confirm when set; without a terminal (a
 * service, CI) %FST_ERROR_NOT_FOUND, an empty answer %FST_ERROR_INVALID_DATA */
static FstSecret *
fst_cli_prompt_secret(const gchar *prompt, const gchar *confirm, GError **error)
{
	g_autoptr(FstSecret) secret = NULL;
	gint fd = g_open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY, 0);

	if (fd < 0) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_NOT_FOUND,
		            "cannot ask for a secret: no terminal (%s)",
		            g_strerror(errno));
		return NULL;
	}
	secret = fst_cli_read_tty(fd, prompt, error);
	if (secret != NULL && confirm != NULL) {
		g_autoptr(FstSecret) again = fst_cli_read_tty(fd, confirm, error);
		gsize len = 0;
		gsize again_len = 0;
		const guint8 *data = fst_secret_get_data(secret, &len);
		const guint8 *again_data =
		    again != NULL ? fst_secret_get_data(again, &again_len) : NULL;
		if (again == NULL || again_len != len ||
		    CRYPTO_memcmp(again_data, data, len) != 0) {
			if (again != NULL)
				g_set_error_literal(error,
				                    FST_ERROR,
				                    FST_ERROR_INVALID_DATA,
				                    "the two secrets typed differ");
			close(fd);
			return NULL;
		}
	}
	close(fd);
	return g_steal_pointer(&secret);
}

/* the option file, else the base class, else a prompt when the base class has nothing */
static FstSecret *
fst_cli_interaction_ask(FstCliInteraction *self,
                        gboolean pin,
                        const gchar *description,
                        FstInteractionFlags flags,
                        GCancellable *cancellable,
                        GError **error)
{
	FstInteractionClass *parent = FST_INTERACTION_CLASS(fst_cli_interaction_parent_class);
	const gchar *file = pin ? self->pin_file : self->passphrase_file;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GError) error_prompt = NULL;
	g_autofree gchar *prompt = NULL;
	g_autofree gchar *confirm = NULL;
	FstSecret *secret;

	/* the workspace's option file does not answer for a key from elsewhere */
	if (flags & FST_INTERACTION_FLAG_FOREIGN)
		file = NULL;
	if (file != NULL)
		return fst_secret_new_from_file(file, error);
	secret = pin ? parent->ask_pin(
	                   FST_INTERACTION(self), description, flags, cancellable, &error_local)
	             : parent->ask_passphrase(
	                   FST_INTERACTION(self), description, flags, cancellable, &error_local);
	if (secret != NULL)
		return secret;
	if (!g_error_matches(error_local, FST_ERROR, FST_ERROR_CA_UNAVAILABLE)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	prompt = g_strdup_printf("%s for %s: ", pin ? "PIN" : "Passphrase", description);
	if (flags & FST_INTERACTION_FLAG_NEW)
		confirm = g_strdup_printf("%s again: ", pin ? "PIN" : "Passphrase");
	secret = fst_cli_prompt_secret(prompt, confirm, &error_prompt);
	if (secret != NULL)
		return secret;
	if (g_error_matches(error_prompt, FST_ERROR, FST_ERROR_NOT_FOUND)) {
		/* no terminal: the base class's message, with what the CLI can do */
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_CA_UNAVAILABLE,
		            "%s; give it with %s FILE (mode 0600), or run on a terminal to "
		            "be asked (there is no terminal)",
		            error_local->message,
		            pin                                    ? "--pin-file"
		            : flags & FST_INTERACTION_FLAG_FOREIGN ? "--in-passphrase-file"
		                                                   : "--passphrase-file");
		return NULL;
	}
	g_propagate_error(error, g_steal_pointer(&error_prompt));
	return NULL;
}

static FstSecret *
fst_cli_interaction_ask_passphrase(FstInteraction *interaction,
                                   const gchar *description,
                                   FstInteractionFlags flags,
                                   GCancellable *cancellable,
                                   GError **error)
{
	return fst_cli_interaction_ask(
	    FST_CLI_INTERACTION(interaction), FALSE, description, flags, cancellable, error);
}

static FstSecret *
fst_cli_interaction_ask_pin(FstInteraction *interaction,
                            const gchar *description,
                            FstInteractionFlags flags,
                            GCancellable *cancellable,
                            GError **error)
{
	return fst_cli_interaction_ask(
	    FST_CLI_INTERACTION(interaction), TRUE, description, flags, cancellable, error);
}

static FstSecret *
fst_cli_interaction_ask_password(FstInteraction *interaction,
                                 const gchar *description,
                                 FstInteractionFlags flags,
                                 GCancellable *cancellable,
                                 GError **error)
{
	g_autofree gchar *prompt =
	    g_strdup_printf("%sassword for %s: ",
	                    (flags & FST_INTERACTION_FLAG_RETRY) ? "Refused. P" : "P",
	                    description);
	g_autoptr(GError) error_local = NULL;
	FstSecret *secret = fst_cli_prompt_secret(prompt, NULL, &error_local);

	if (secret != NULL)
		return secret;
	if (g_error_matches(error_local, FST_ERROR, FST_ERROR_NOT_FOUND)) {
		g_set_error(error,
		            FST_ERROR,
		            FST_ERROR_PERMISSION_DENIED,
		            "no password for %s: run on a terminal to be asked (%s)",
		            description,
		            error_local->message);
		return NULL;
	}
	g_propagate_error(error, g_steal_pointer(&error_local));
	return NULL;
}

static void
fst_cli_interaction_finalize(GObject *object)
{
	FstCliInteraction *self = FST_CLI_INTERACTION(object);
	g_free(self->passphrase_file);
	g_free(self->pin_file);
	G_OBJECT_CLASS(fst_cli_interaction_parent_class)->finalize(object);
}

static void
fst_cli_interaction_class_init(FstCliInteractionClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	FstInteractionClass *interaction_class = FST_INTERACTION_CLASS(klass);
	object_class->finalize = fst_cli_interaction_finalize;
	interaction_class->ask_passphrase = fst_cli_interaction_ask_passphrase;
	interaction_class->ask_pin = fst_cli_interaction_ask_pin;
	interaction_class->ask_password = fst_cli_interaction_ask_password;
}

static void
fst_cli_interaction_init(FstCliInteraction *self)
{
}

/**
 * fst_cli_interaction_new:
 * @workspace: (nullable): the workspace (for `ca/passphrase`)
 * @passphrase_file: (nullable): --passphrase-file
 * @pin_file: (nullable): --pin-file
 *
 * Returns: (transfer full): the CLI's #FstInteraction
 */
FstInteraction *
fst_cli_interaction_new(const gchar *workspace, const gchar *passphrase_file, const gchar *pin_file)
{
	FstCliInteraction *self =
	    g_object_new(FST_TYPE_CLI_INTERACTION, "workspace", workspace, NULL);
	self->passphrase_file = g_strdup(passphrase_file);
	self->pin_file = g_strdup(pin_file);
	return FST_INTERACTION(self);
}
