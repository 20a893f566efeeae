/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side's view of what the station issues, through Debian's mbedTLS
 * 2.28 (the TLS library most devices run):
 *
 *   fst-verify-mbedtls verify ROOT.pem CHAIN.pem
 *     parses every certificate of CHAIN (leaf first) and verifies the chain to
 *     ROOT for client authentication: keyUsage digitalSignature, extendedKeyUsage
 *     clientAuth, mbedTLS's default profile (SHA-2, RSA >= 2048, NIST curves)
 *   fst-verify-mbedtls connect HOST PORT CA.pem CERT.pem KEY.pem
 *     TLS 1.2 mutual authentication with CERT/KEY, the server verified against
 *     CA for the name "localhost", then an MQTT 3.1.1 CONNECT that must get
 *     CONNACK 0
 *
 * Exit 0 on success, 1 on a verification or usage failure, 2 when the
 * handshake fails, 3 when MQTT fails. Messages go to stdout.
 */

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <string.h>

static void
fst_mbedtls_fail(const char *what, int rc)
{
	char buf[256];
	mbedtls_strerror(rc, buf, sizeof(buf));
	printf("FAIL %s: -0x%04x %s\n", what, (unsigned)-rc, buf);
}

static int
fst_mbedtls_verify(const char *root_path, const char *chain_path)
{
	mbedtls_x509_crt root, chain;
	char buf[4096];
	uint32_t flags = 0;
	int rc, ret = 1, n = 0;

	mbedtls_x509_crt_init(&root);
	mbedtls_x509_crt_init(&chain);
	if ((rc = mbedtls_x509_crt_parse_file(&root, root_path)) != 0) {
		fst_mbedtls_fail("parse root", rc);
		goto out;
	}
	/* a positive return is the number of certificates that did not parse */
	if ((rc = mbedtls_x509_crt_parse_file(&chain, chain_path)) != 0) {
		fst_mbedtls_fail("parse chain", rc);
		goto out;
	}
	for (mbedtls_x509_crt *c = &chain; c != NULL && c->raw.len > 0; c = c->next, n++) {
		mbedtls_x509_crt_info(buf, sizeof(buf), "  ", c);
		printf("certificate %d:\n%s", n, buf);
	}
	if (mbedtls_x509_crt_check_key_usage(&chain, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0) {
		printf("FAIL leaf keyUsage lacks digitalSignature\n");
		goto out;
	}
	if (mbedtls_x509_crt_check_extended_key_usage(
	        &chain, MBEDTLS_OID_CLIENT_AUTH, MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)) != 0) {
		printf("FAIL leaf extendedKeyUsage lacks clientAuth\n");
		goto out;
	}
	rc = mbedtls_x509_crt_verify_with_profile(
	    &chain, &root, NULL, &mbedtls_x509_crt_profile_default, NULL, &flags, NULL, NULL);
	if (rc != 0) {
		mbedtls_x509_crt_verify_info(buf, sizeof(buf), "  ", flags);
		printf("FAIL chain does not verify (flags 0x%x):\n%s", (unsigned)flags, buf);
		goto out;
	}
	printf("ok chain of %d verifies\n", n);
	ret = 0;
out:
	mbedtls_x509_crt_free(&root);
	mbedtls_x509_crt_free(&chain);
	return ret;
}

static int
fst_mbedtls_connect(char **argv)
{
	/* MQTT 3.1.1 CONNECT, clean session, keepalive 60, client id "fst-device" */
	static const unsigned char connect[] = {0x10, 22,   0,   4,   'M', 'Q', 'T', 'T',
	                                        4,    0x02, 0,   60,  0,   10,  'f', 's',
	                                        't',  '-',  'd', 'e', 'v', 'i', 'c', 'e'};
	static const unsigned char disconnect[] = {0xe0, 0};
	mbedtls_net_context net;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, own;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	unsigned char ack[4] = {0};
	int got = 0, rc, ret = 2;

	mbedtls_net_init(&net);
	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&own);
	mbedtls_pk_init(&key);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if ((rc = mbedtls_ctr_drbg_seed(
	         &drbg, mbedtls_entropy_func, &entropy, (const unsigned char *)"fst", 3)) != 0) {
		fst_mbedtls_fail("seed", rc);
		goto out;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&ca, argv[2])) != 0 ||
	    (rc = mbedtls_x509_crt_parse_file(&own, argv[3])) != 0) {
		fst_mbedtls_fail("parse certificates", rc);
		goto out;
	}
	/* mbedTLS 2.28: no RNG argument */
	if ((rc = mbedtls_pk_parse_keyfile(&key, argv[4], NULL)) != 0) {
		fst_mbedtls_fail("parse key", rc);
		goto out;
	}
	if ((rc = mbedtls_ssl_config_defaults(&conf,
	                                      MBEDTLS_SSL_IS_CLIENT,
	                                      MBEDTLS_SSL_TRANSPORT_STREAM,
	                                      MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		fst_mbedtls_fail("config", rc);
		goto out;
	}
	mbedtls_ssl_conf_min_version(
	    &conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(
	    &conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&conf, &ca, NULL);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	if ((rc = mbedtls_ssl_conf_own_cert(&conf, &own, &key)) != 0 ||
	    (rc = mbedtls_ssl_setup(&ssl, &conf)) != 0 ||
	    (rc = mbedtls_ssl_set_hostname(&ssl, "localhost")) != 0) {
		fst_mbedtls_fail("setup", rc);
		goto out;
	}
	if ((rc = mbedtls_net_connect(&net, argv[0], argv[1], MBEDTLS_NET_PROTO_TCP)) != 0) {
		fst_mbedtls_fail("connect", rc);
		goto out;
	}
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
	while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
			fst_mbedtls_fail("handshake", rc);
			goto out;
		}
	}
	printf("ok handshake %s %s\n",
	       mbedtls_ssl_get_version(&ssl),
	       mbedtls_ssl_get_ciphersuite(&ssl));
	ret = 3;
	if ((rc = mbedtls_ssl_write(&ssl, connect, sizeof(connect))) != (int)sizeof(connect)) {
		fst_mbedtls_fail("write CONNECT", rc);
		goto out;
	}
	while (got < 4 && (rc = mbedtls_ssl_read(&ssl, ack + got, sizeof(ack) - (size_t)got)) > 0)
		got += rc;
	if (got != 4 || ack[0] != 0x20 || ack[1] != 2 || ack[3] != 0) {
		printf("FAIL no CONNACK 0 (%d bytes: %02x %02x %02x %02x)\n",
		       got,
		       ack[0],
		       ack[1],
		       ack[2],
		       ack[3]);
		goto out;
	}
	printf("ok MQTT CONNACK 0\n");
	mbedtls_ssl_write(&ssl, disconnect, sizeof(disconnect));
	mbedtls_ssl_close_notify(&ssl);
	ret = 0;
out:
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&own);
	mbedtls_pk_free(&key);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "verify") == 0)
		return fst_mbedtls_verify(argv[2], argv[3]);
	if (argc == 7 && strcmp(argv[1], "connect") == 0)
		return fst_mbedtls_connect(argv + 2);
	fprintf(stderr,
	        "usage: fst-verify-mbedtls verify ROOT.pem CHAIN.pem\n"
	        "       fst-verify-mbedtls connect HOST PORT CA.pem CERT.pem KEY.pem\n");
	return 1;
}
