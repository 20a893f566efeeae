/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleetstation-nrf91sim: a simulated Nordic nRF91 cellular modem on a
 * pseudo-terminal, speaking the AT commands the nrf91 dialect uses as
 * Nordic documents them (protocols/sim/README.md, "nRF91 modem model"):
 * CR LF line endings, OK / ERROR / +CME ERROR: n, quoted PEM with raw
 * newlines, a credential store with a size limit, %KEYGEN with a CSR and
 * a COSE_Sign1 over its hash, and faults.
 */
#define G_LOG_DOMAIN "FstNrf91Sim"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <termios.h>
#include <unistd.h>

#include "fst-error.h"
#include "fst-secret.h"
#include "fst-nrf91-at.h"
#include "fst-openssl-common.h"

#define FST_NRF91SIM_EXIT_OK 0
#define FST_NRF91SIM_EXIT_USAGE 2
#define FST_NRF91SIM_EXIT_FAILURE 3
/* the longest command line it takes, a %CMNG write of a 4 KB PEM included */
#define FST_NRF91SIM_LINE_MAX 8192u
#define FST_NRF91SIM_CREDENTIAL_MAX 4096u

typedef struct {
	gchar *imei;
	const gchar *model;
	const gchar *firmware;
	gchar *storage_path; /* (nullable) */
	GKeyFile *store;     /* credentials: [<tag>] 0=, 1=, 2= (key PEM) */
	guint storage_limit;
	gboolean null_param;
	gboolean stay_active;
	gint fault_keygen;
	gboolean fault_bad_cose;
	gboolean fault_corrupt_cert;
	gboolean fault_csr_signature;
	EVP_PKEY *identity; /* signs the COSE_Sign1 of %KEYGEN */
	gint cfun;
	gboolean cmee;
	guint n_commands;
} FstNrf91Sim;

static volatile sig_atomic_t fst_nrf91sim_stop = 0;

static void
fst_nrf91sim_on_signal(int sig)
{
	fst_nrf91sim_stop = 1;
}

static gboolean
fst_nrf91sim_save(FstNrf91Sim *self)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	g_autoptr(GError) error = NULL;

	if (self->storage_path == NULL)
		return TRUE;
	data = g_key_file_to_data(self->store, &len, NULL);
	if (!fst_file_set_contents_private(self->storage_path, (const guint8 *)data, len, &error)) {
		g_printerr("saving %s: %s\n", self->storage_path, error->message);
		return FALSE;
	}
	return TRUE;
}

/* the bytes every credential takes, for the storage limit */
static gsize
fst_nrf91sim_used(FstNrf91Sim *self, const gchar *skip_group, const gchar *skip_key)
{
	g_auto(GStrv) groups = g_key_file_get_groups(self->store, NULL);
	gsize used = 0;
	for (guint i = 0; groups[i] != NULL; i++) {
		g_auto(GStrv) keys = g_key_file_get_keys(self->store, groups[i], NULL, NULL);
		for (guint k = 0; keys != NULL && keys[k] != NULL; k++) {
			g_autofree gchar *v = NULL;
			g_autofree guint8 *raw = NULL;
			gsize raw_len = 0;
			if (g_strcmp0(groups[i], skip_group) == 0 &&
			    g_strcmp0(keys[k], skip_key) == 0)
				continue;
			v = g_key_file_get_string(self->store, groups[i], keys[k], NULL);
			raw = g_base64_decode(v, &raw_len);
			used += raw_len;
		}
	}
	return used;
}

static GBytes *
fst_nrf91sim_get(FstNrf91Sim *self, guint32 tag, guint type)
{
	g_autofree gchar *group = g_strdup_printf("%u", tag);
	g_autofree gchar *key = g_strdup_printf("%u", type);
	g_autofree gchar *v = g_key_file_get_string(self->store, group, key, NULL);
	guint8 *raw;
	gsize len = 0;
	if (v == NULL)
		return NULL;
	raw = g_base64_decode(v, &len);
	return g_bytes_new_take(raw, len);
}

static void
fst_nrf91sim_set(FstNrf91Sim *self, guint32 tag, guint type, const guint8 *data, gsize len)
{
	g_autofree gchar *group = g_strdup_printf("%u", tag);
	g_autofree gchar *key = g_strdup_printf("%u", type);
	g_autofree gchar *b64 = g_base64_encode(data, len);
	g_key_file_set_string(self->store, group, key, b64);
}

/* DER: the header length and content length at @p (short and long forms) */
static gboolean
fst_nrf91sim_der_len(const guint8 *p, gsize avail, gsize *hdr, gsize *len)
{
	if (avail < 2)
		return FALSE;
	if (p[1] < 0x80) {
		*hdr = 2;
		*len = p[1];
		return TRUE;
	}
	if (p[1] == 0x81 && avail >= 3) {
		*hdr = 3;
		*len = p[2];
		return TRUE;
	}
	if (p[1] == 0x82 && avail >= 4) {
		*hdr = 4;
		*len = ((gsize)p[2] << 8) | p[3];
		return TRUE;
	}
	return FALSE;
}

/* older modem firmware: an explicit NULL parameter in the CSR's outer
 * ecdsa-with-SHA256 AlgorithmIdentifier; the signature covers only the
 * CertificationRequestInfo, so it stays valid */
static GBytes *
fst_nrf91sim_add_null_param(const guint8 *der, gsize der_len)
{
	static const guint8 algid[] = {
	    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
	static const guint8 algid_null[] = {
	    0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00};
	gsize hdr, len, cri_hdr, cri_len, body_len;
	g_autoptr(GByteArray) out = g_byte_array_new();
	const guint8 *body;
	guint8 h[4];

	if (!fst_nrf91sim_der_len(der, der_len, &hdr, &len) ||
	    !fst_nrf91sim_der_len(der + hdr, der_len - hdr, &cri_hdr, &cri_len))
		return NULL;
	body = der + hdr;
	if (cri_hdr + cri_len + sizeof(algid) > len ||
	    memcmp(body + cri_hdr + cri_len, algid, sizeof(algid)) != 0)
		return NULL;
	body_len = len + 2;
	h[0] = 0x30;
	if (body_len < 0x80) {
		h[1] = (guint8)body_len;
		g_byte_array_append(out, h, 2);
	} else if (body_len < 0x100) {
		h[1] = 0x81;
		h[2] = (guint8)body_len;
		g_byte_array_append(out, h, 3);
	} else {
		h[1] = 0x82;
		h[2] = (guint8)(body_len >> 8);
		h[3] = (guint8)body_len;
		g_byte_array_append(out, h, 4);
	}
	g_byte_array_append(out, body, (guint)(cri_hdr + cri_len));
	g_byte_array_append(out, algid_null, sizeof(algid_null));
	g_byte_array_append(out,
	                    body + cri_hdr + cri_len + sizeof(algid),
	                    (guint)(len - cri_hdr - cri_len - sizeof(algid)));
	return g_byte_array_free_to_bytes(g_steal_pointer(&out));
}

static void
fst_nrf91sim_cbor_head(GByteArray *out, guint8 major, gsize n)
{
	guint8 b[3];
	if (n < 24) {
		b[0] = (guint8)((major << 5) | n);
		g_byte_array_append(out, b, 1);
	} else if (n < 256) {
		b[0] = (guint8)((major << 5) | 24);
		b[1] = (guint8)n;
		g_byte_array_append(out, b, 2);
	} else {
		b[0] = (guint8)((major << 5) | 25);
		b[1] = (guint8)(n >> 8);
		b[2] = (guint8)n;
		g_byte_array_append(out, b, 3);
	}
}

/* COSE_Sign1 (tag 18), ES256, payload the SHA-256 of @csr */
static GBytes *
fst_nrf91sim_cose(FstNrf91Sim *self, GBytes *csr)
{
	static const guint8 prot_hdr[] = {0xa1, 0x01, 0x26}; /* {1: -7} */
	guint8 hash[SHA256_DIGEST_LENGTH];
	g_autoptr(GBytes) prot = g_bytes_new_static(prot_hdr, sizeof(prot_hdr));
	g_autoptr(GBytes) payload = NULL;
	g_autoptr(GBytes) tbs = NULL;
	g_autoptr(EVP_MD_CTX) ctx = EVP_MD_CTX_new();
	g_autoptr(ECDSA_SIG) sig = NULL;
	guint8 der[128];
	gsize der_len = sizeof(der);
	const guint8 *p = der;
	guint8 rs[64] = {0};
	GByteArray *out = g_byte_array_new();

	SHA256(g_bytes_get_data(csr, NULL), g_bytes_get_size(csr), hash);
	if (self->fault_bad_cose)
		hash[0] ^= 0x01;
	payload = g_bytes_new(hash, sizeof(hash));
	tbs = fst_nrf91_cose_sig_structure(prot, payload);
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, self->identity) != 1 ||
	    EVP_DigestSign(
	        ctx, der, &der_len, g_bytes_get_data(tbs, NULL), g_bytes_get_size(tbs)) != 1)
		g_printerr("cannot sign the COSE structure\n");
	sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (sig != NULL) {
		BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32);
		BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32);
	}
	g_byte_array_append(out, (const guint8 *)"\xd2\x84", 2);
	fst_nrf91sim_cbor_head(out, 2, sizeof(prot_hdr));
	g_byte_array_append(out, prot_hdr, sizeof(prot_hdr));
	g_byte_array_append(out, (const guint8 *)"\xa0", 1);
	fst_nrf91sim_cbor_head(out, 2, sizeof(hash));
	g_byte_array_append(out, hash, sizeof(hash));
	fst_nrf91sim_cbor_head(out, 2, sizeof(rs));
	g_byte_array_append(out, rs, sizeof(rs));
	return g_byte_array_free_to_bytes(out);
}

/* AT%KEYGEN=<tag>,2,0: a P-256 key in the sec_tag, a CSR for it */
static gchar *
fst_nrf91sim_keygen(FstNrf91Sim *self, guint32 tag, gint *cme)
{
	g_autoptr(EVP_PKEY) key = EVP_EC_gen("P-256");
	g_autoptr(X509_REQ) req = X509_REQ_new();
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) cose = NULL;
	g_autofree gchar *csr64 = NULL;
	g_autofree gchar *cose64 = NULL;
	guint8 *der = NULL;
	int der_len;
	gchar *pem = NULL;
	long pem_len;
	X509_NAME *name;

	if (key == NULL || req == NULL) {
		*cme = 523;
		return NULL;
	}
	name = X509_REQ_get_subject_name(req);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const guchar *)self->imei, -1, -1, 0);
	X509_REQ_set_pubkey(req, key);
	if (X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		*cme = 523;
		return NULL;
	}
	der_len = i2d_X509_REQ(req, &der);
	csr = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	if (self->null_param) {
		GBytes *quirk =
		    fst_nrf91sim_add_null_param(g_bytes_get_data(csr, NULL), g_bytes_get_size(csr));
		if (quirk == NULL) {
			*cme = 523;
			return NULL;
		}
		g_bytes_unref(csr);
		csr = quirk;
	}
	if (self->fault_csr_signature) {
		/* the last byte is in the signature's s: the DER stays valid, the
		 * signature does not */
		gsize len = 0;
		guint8 *bad = g_bytes_unref_to_data(csr, &len);
		bad[len - 1] ^= 0x01;
		csr = g_bytes_new_take(bad, len);
	}
	PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	pem_len = BIO_get_mem_data(bio, &pem);
	fst_nrf91sim_set(self, tag, 2, (const guint8 *)pem, (gsize)pem_len);
	if (!fst_nrf91sim_save(self)) {
		*cme = 523;
		return NULL;
	}
	cose = fst_nrf91sim_cose(self, csr);
	csr64 = fst_nrf91_base64url_encode(g_bytes_get_data(csr, NULL), g_bytes_get_size(csr));
	cose64 = fst_nrf91_base64url_encode(g_bytes_get_data(cose, NULL), g_bytes_get_size(cose));
	return g_strdup_printf("%%KEYGEN: \"%s.%s\"", csr64, cose64);
}

/* the numbers of "a,b,c" at @p, up to @max of them; the rest after them */
static guint
fst_nrf91sim_numbers(const gchar *p, guint64 *v, guint max, const gchar **rest)
{
	guint n = 0;
	while (n < max && g_ascii_isdigit(*p)) {
		gchar *end = NULL;
		v[n++] = g_ascii_strtoull(p, &end, 10);
		p = end;
		if (*p != ',')
			break;
		p++;
	}
	*rest = p;
	return n;
}

/* one command line; appends the answer lines to @out; returns the final
 * result: 0 OK, -1 ERROR, else a +CME ERROR code */
static gint
fst_nrf91sim_command(FstNrf91Sim *self, const gchar *cmd, GPtrArray *out)
{
	guint64 v[3] = {0};
	const gchar *rest = NULL;
	guint n;

	self->n_commands++;
	if (g_strcmp0(cmd, "AT") == 0)
		return 0;
	if (g_str_has_prefix(cmd, "AT+CFUN=")) {
		gint mode = atoi(cmd + 8);
		if (mode != 0 && mode != 1 && mode != 4 && mode != 44)
			return -1;
		if (!self->stay_active || mode != 4)
			self->cfun = mode;
		return 0;
	}
	if (g_strcmp0(cmd, "AT+CFUN?") == 0) {
		g_ptr_array_add(out, g_strdup_printf("+CFUN: %d", self->cfun));
		return 0;
	}
	if (g_str_has_prefix(cmd, "AT+CMEE=")) {
		self->cmee = atoi(cmd + 8) == 1;
		return 0;
	}
	if (g_strcmp0(cmd, "AT+CGSN") == 0) {
		g_ptr_array_add(out, g_strdup(self->imei));
		return 0;
	}
	if (g_strcmp0(cmd, "AT+CGMR") == 0) {
		g_ptr_array_add(out, g_strdup(self->firmware));
		return 0;
	}
	if (g_strcmp0(cmd, "AT+CGMM") == 0) {
		g_ptr_array_add(out, g_strdup(self->model));
		return 0;
	}
	if (g_str_has_prefix(cmd, "AT%KEYGEN=")) {
		g_autoptr(GBytes) old = NULL;
		gchar *line;
		gint cme = 0;
		n = fst_nrf91sim_numbers(cmd + 10, v, 3, &rest);
		if (n != 3 || *rest != '\0' || v[0] > G_MAXINT32 || v[1] != 2 || v[2] != 0)
			return -1;
		if (self->cfun != 0 && self->cfun != 4)
			return 518;
		if (self->fault_keygen != 0)
			return self->fault_keygen;
		old = fst_nrf91sim_get(self, (guint32)v[0], 2);
		if (old != NULL)
			return 519;
		line = fst_nrf91sim_keygen(self, (guint32)v[0], &cme);
		if (line == NULL)
			return cme;
		g_ptr_array_add(out, line);
		return 0;
	}
	if (g_str_has_prefix(cmd, "AT%CMNG=")) {
		guint64 op;
		n = fst_nrf91sim_numbers(cmd + 8, v, 3, &rest);
		if (n == 0)
			return -1;
		op = v[0];
		if (op == 0) {
			/* write: AT%CMNG=0,<tag>,<type>,"<content>" */
			const gchar *content;
			gsize len;
			g_autofree gchar *group = NULL;
			g_autofree gchar *key = NULL;
			if (n != 3 || rest[-1] != ',' || rest[0] != '"' || v[1] > G_MAXINT32 ||
			    v[2] > 6)
				return -1;
			content = rest + 1;
			len = strlen(content);
			if (len < 1 || content[len - 1] != '"')
				return -1;
			len--;
			if (self->cfun != 0 && self->cfun != 4)
				return 518;
			if (v[1] >= 2147483648u - 16)
				return 514; /* the modem's own reserved tags */
			group = g_strdup_printf("%u", (guint)v[1]);
			key = g_strdup_printf("%u", (guint)v[2]);
			if (len > FST_NRF91SIM_CREDENTIAL_MAX ||
			    fst_nrf91sim_used(self, group, key) + len > self->storage_limit)
				return 515;
			if (self->fault_corrupt_cert && v[2] == 1 && len > 100) {
				g_autofree gchar *bad = g_strndup(content, len);
				bad[len / 2] ^= 0x01;
				fst_nrf91sim_set(
				    self, (guint32)v[1], (guint)v[2], (const guint8 *)bad, len);
			} else {
				fst_nrf91sim_set(
				    self, (guint32)v[1], (guint)v[2], (const guint8 *)content, len);
			}
			return fst_nrf91sim_save(self) ? 0 : 515;
		}
		if (op == 1) {
			/* list: %CMNG: <tag>,<type>,"<SHA-256 of what is stored>" */
			g_auto(GStrv) groups = g_key_file_get_groups(self->store, NULL);
			if (*rest != '\0')
				return -1;
			for (guint i = 0; groups[i] != NULL; i++) {
				guint64 tag = g_ascii_strtoull(groups[i], NULL, 10);
				if (n >= 2 && tag != v[1])
					continue;
				for (guint type = 0; type <= 6; type++) {
					g_autoptr(GBytes) data = NULL;
					guint8 sha[SHA256_DIGEST_LENGTH];
					g_autoptr(GString) hex = g_string_new(NULL);
					if (n >= 3 && type != v[2])
						continue;
					data = fst_nrf91sim_get(self, (guint32)tag, type);
					if (data == NULL)
						continue;
					SHA256(g_bytes_get_data(data, NULL),
					       g_bytes_get_size(data),
					       sha);
					for (guint k = 0; k < sizeof(sha); k++)
						g_string_append_printf(hex, "%02X", sha[k]);
					g_ptr_array_add(out,
					                g_strdup_printf("%%CMNG: %" G_GUINT64_FORMAT
					                                ",%u,\"%s\"",
					                                tag,
					                                type,
					                                hex->str));
				}
			}
			return 0;
		}
		if (op == 3) {
			g_autofree gchar *group = NULL;
			g_autofree gchar *key = NULL;
			if (n != 3 || *rest != '\0')
				return -1;
			if (self->cfun != 0 && self->cfun != 4)
				return 518;
			group = g_strdup_printf("%u", (guint)v[1]);
			key = g_strdup_printf("%u", (guint)v[2]);
			if (!g_key_file_remove_key(self->store, group, key, NULL))
				return 513;
			return fst_nrf91sim_save(self) ? 0 : 515;
		}
		return -1;
	}
	return -1;
}

static void
fst_nrf91sim_write(int fd, const gchar *text)
{
	gsize len = strlen(text);
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		text += n;
		len -= (gsize)n;
	}
}

static void
fst_nrf91sim_answer(FstNrf91Sim *self, int fd, const gchar *cmd)
{
	g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) text = g_string_new(NULL);
	gint rc = fst_nrf91sim_command(self, cmd, out);

	for (guint i = 0; i < out->len; i++)
		g_string_append_printf(text, "%s\r\n", (const gchar *)g_ptr_array_index(out, i));
	if (rc == 0)
		g_string_append(text, "OK\r\n");
	else if (rc < 0 || !self->cmee)
		g_string_append(text, "ERROR\r\n");
	else
		g_string_append_printf(text, "+CME ERROR: %d\r\n", rc);
	fst_nrf91sim_write(fd, text->str);
}

static gboolean
fst_nrf91sim_open_pty(int *master, int *slave, gchar **slave_path)
{
	struct termios tio;
	char name[256] = {0};

	if (openpty(master, slave, name, NULL, NULL) != 0)
		return FALSE;
	for (guint i = 0; i < 2; i++) {
		int fd = i == 0 ? *master : *slave;
		if (tcgetattr(fd, &tio) != 0)
			return FALSE;
		cfmakeraw(&tio);
		if (tcsetattr(fd, TCSANOW, &tio) != 0)
			return FALSE;
	}
	(void)fcntl(*master, F_SETFD, FD_CLOEXEC);
	(void)fcntl(*slave, F_SETFD, FD_CLOEXEC);
	*slave_path = g_strdup(name);
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *imei = NULL;
	g_autofree gchar *model = NULL;
	g_autofree gchar *firmware = NULL;
	g_autofree gchar *storage = NULL;
	g_autofree gchar *identity_path = NULL;
	g_autofree gchar *slave_path = NULL;
	gint storage_limit = 16384;
	gint fault_keygen = 0;
	gboolean null_param = FALSE;
	gboolean stay_active = FALSE;
	gboolean bad_cose = FALSE;
	gboolean corrupt_cert = FALSE;
	gboolean csr_signature = FALSE;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GByteArray) line = g_byte_array_new();
	FstNrf91Sim self = {0};
	struct sigaction sa;
	gboolean quoted = FALSE;
	int master = -1;
	int slave = -1;
	pid_t parent = getppid();
	const GOptionEntry entries[] = {
	    {"imei", 0, 0, G_OPTION_ARG_STRING, &imei, "IMEI, 15 digits (AT+CGSN)", "IMEI"},
	    {"model", 0, 0, G_OPTION_ARG_STRING, &model, "AT+CGMM (default nRF9160-SICA)", "NAME"},
	    {"firmware",
	     0,
	     0,
	     G_OPTION_ARG_STRING,
	     &firmware,
	     "AT+CGMR (default mfw_nrf9160_1.3.5)",
	     "VERSION"},
	    {"storage", 0, 0, G_OPTION_ARG_FILENAME, &storage, "Credential store file", "FILE"},
	    {"storage-limit",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &storage_limit,
	     "Bytes the credential store holds in all (default 16384): +CME ERROR: 515 beyond",
	     "N"},
	    {"identity-key",
	     0,
	     0,
	     G_OPTION_ARG_FILENAME,
	     &identity_path,
	     "PEM P-256 private key that signs the COSE_Sign1 of %KEYGEN (default: a new one)",
	     "FILE"},
	    {"null-param",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &null_param,
	     "Old modem firmware: an explicit NULL parameter in the CSR's signature algorithm",
	     NULL},
	    {"fault-stay-active",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &stay_active,
	     "Ignores AT+CFUN=4: key generation and writes answer +CME ERROR: 518",
	     NULL},
	    {"fault-keygen",
	     0,
	     0,
	     G_OPTION_ARG_INT,
	     &fault_keygen,
	     "Answers %KEYGEN with +CME ERROR: N",
	     "N"},
	    {"fault-bad-cose",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &bad_cose,
	     "The COSE_Sign1 of %KEYGEN is over another hash than the CSR's",
	     NULL},
	    {"fault-csr-signature",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &csr_signature,
	     "The CSR's signature does not verify (the COSE_Sign1 is over the CSR as sent)",
	     NULL},
	    {"fault-corrupt-cert",
	     0,
	     0,
	     G_OPTION_ARG_NONE,
	     &corrupt_cert,
	     "Stores the client certificate with one bit flipped (%CMNG=1 reports the hash of "
	     "what is stored)",
	     NULL},
	    {NULL}};

	context = g_option_context_new("- a simulated nRF91 modem on a pty");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return FST_NRF91SIM_EXIT_USAGE;
	}
	if (imei == NULL || strlen(imei) != 15 || strspn(imei, "0123456789") != 15) {
		g_printerr("--imei must be 15 digits\n");
		return FST_NRF91SIM_EXIT_USAGE;
	}
	if (storage_limit <= 0) {
		g_printerr("--storage-limit must be positive\n");
		return FST_NRF91SIM_EXIT_USAGE;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		return FST_NRF91SIM_EXIT_FAILURE;

	self.imei = imei;
	self.model = model != NULL ? model : "nRF9160-SICA";
	self.firmware = firmware != NULL ? firmware : "mfw_nrf9160_1.3.5";
	self.storage_path = storage;
	self.storage_limit = (guint)storage_limit;
	self.null_param = null_param;
	self.stay_active = stay_active;
	self.fault_keygen = fault_keygen;
	self.fault_bad_cose = bad_cose;
	self.fault_corrupt_cert = corrupt_cert;
	self.fault_csr_signature = csr_signature;
	self.cfun = 1;
	self.store = g_key_file_new();
	if (storage != NULL && g_file_test(storage, G_FILE_TEST_EXISTS) &&
	    !g_key_file_load_from_file(self.store, storage, G_KEY_FILE_NONE, &error)) {
		g_printerr("cannot load %s: %s\n", storage, error->message);
		return FST_NRF91SIM_EXIT_FAILURE;
	}
	if (identity_path != NULL) {
		g_autoptr(BIO) bio = BIO_new_file(identity_path, "r");
		self.identity = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	} else {
		self.identity = EVP_EC_gen("P-256");
	}
	if (self.identity == NULL) {
		g_printerr("no identity key\n");
		return FST_NRF91SIM_EXIT_FAILURE;
	}
	if (!fst_nrf91sim_open_pty(&master, &slave, &slave_path)) {
		g_printerr("cannot open a pty: %s\n", g_strerror(errno));
		return FST_NRF91SIM_EXIT_FAILURE;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fst_nrf91sim_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	printf("READY %s\n", slave_path);
	fflush(stdout);

	while (!fst_nrf91sim_stop) {
		struct pollfd pfd = {.fd = master, .events = POLLIN};
		guint8 buf[1024];
		ssize_t n;
		int rc = poll(&pfd, 1, 200);

		if (rc <= 0)
			continue;
		n = read(master, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		/* a command ends at CR or LF outside quotes: the PEM of a %CMNG
		 * write keeps its raw newlines */
		for (ssize_t i = 0; i < n; i++) {
			guint8 c = buf[i];
			if (c == '"')
				quoted = !quoted;
			if (!quoted && (c == '\r' || c == '\n')) {
				g_autofree gchar *cmd = NULL;
				if (line->len == 0)
					continue;
				cmd = g_strndup((const gchar *)line->data, line->len);
				g_byte_array_set_size(line, 0);
				fst_nrf91sim_answer(&self, master, cmd);
				continue;
			}
			if (line->len >= FST_NRF91SIM_LINE_MAX) {
				/* too long: dropped, answered ERROR at its end */
				g_byte_array_set_size(line, 0);
				quoted = FALSE;
				fst_nrf91sim_write(master, "ERROR\r\n");
				continue;
			}
			g_byte_array_append(line, &c, 1);
		}
	}
	printf("STATS commands=%u\n", self.n_commands);
	fflush(stdout);
	EVP_PKEY_free(self.identity);
	g_key_file_unref(self.store);
	close(slave);
	close(master);
	return FST_NRF91SIM_EXIT_OK;
}
