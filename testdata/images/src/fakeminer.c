/*
 * fakeminer: a harmless stand-in for an XMRig-style cryptominer, used to test
 * snapscan's content sweep. It mines nothing, opens no socket, reads no file
 * and writes only to stdout: it prints a help text and exits.
 *
 * The strings below are the markers a real miner binary carries (option
 * names, a version banner, the developer-donation pool host, a stratum URL,
 * a Monero-wallet-shaped string) so that the embedded YARA rules have an
 * ELF to fire on. The wallet is not a valid address (wrong checksum, and it
 * spells "snapscanTestWa11etNotRea1"), the pool hosts are never contacted.
 *
 * Build: cc -O2 -o fakeminer fakeminer.c
 */
#include <stdio.h>
#include <string.h>

static const char banner[] =
    " * ABOUT        XMRig/6.21.0 gcc/12.2.0 (snapscan test build, not a miner)\n"
    " * LIBS         libuv/1.44.2 OpenSSL/3.0.11 hwloc/2.9.0\n";

static const char help[] =
    "Usage: xmrig [OPTIONS]\n"
    "\n"
    "Network:\n"
    "  -o, --url=URL                 URL of mining server\n"
    "  -a, --algo=ALGO               mining algorithm (rx/0, cn/r, cn/half)\n"
    "      --coin=COIN               specify coin instead of algorithm\n"
    "  -u, --user=USERNAME           username for mining server\n"
    "  -p, --pass=PASSWORD           password for mining server\n"
    "  -k, --keepalive               send keepalive packet for prevent timeout\n"
    "      --nicehash                enable nicehash.com support\n"
    "      --rig-id=ID               rig identifier for pool-side statistics\n"
    "      --donate-level=N          donate level, default 1%% (1 minute in 100 minutes)\n"
    "\n"
    "CPU backend:\n"
    "      --cpu-max-threads-hint=N  maximum CPU threads count (in percentage) hint\n"
    "      --randomx-1gb-pages       use 1GB hugepages for RandomX dataset\n"
    "      --randomx-mode=MODE       RandomX mode: auto, fast, light\n"
    "\n"
    "Example: xmrig -o stratum+tcp://pool.example.invalid:3333 -u %s -k\n";

/* The developer-donation endpoints real builds connect to; here only text. */
static const char donate_hosts[] =
    "donate.v2.xmrig.com:3333 donate.ssl.xmrig.com:443";

static const char wallet[] =
    "4AsnapscanTestWa11etNotRea1gHpPsmvpia2vWrGi4zB8QXxGRb7dG1oETJCxrRBqt59ggV991x1ErEBxBKMDbykhECmD";

static const char algos[] = "cryptonight randomx rx/0 RandomX_MoneroConfig";

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		fputs(banner, stdout);
		return 0;
	}
	fputs(banner, stdout);
	printf(help, wallet);
	if (argc > 1 && strcmp(argv[1], "--list-markers") == 0)
		printf("%s\n%s\n", donate_hosts, algos);
	return 0;
}
