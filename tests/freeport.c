/*
 * freeport: prints a TCP port on 127.0.0.1 that was free a moment ago.
 * Integration scripts use it to start servers on private ports.
 */
#include "config.h"

#include <stdio.h>

#include "lib/harness.h"

int
main(void)
{
	int port = harness_free_port();

	if (port <= 0) {
		perror("freeport");
		return 1;
	}
	printf("%d\n", port);
	return 0;
}
