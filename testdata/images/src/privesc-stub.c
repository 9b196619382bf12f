/* A harmless stand-in program for the linux-privesc test image: each build
 * (-DTAG="...") gives distinct content under the name of the tool it stands
 * for (su, passwd, curl, a planted helper). It only prints its tag. */
#include <stdio.h>
#ifndef TAG
#define TAG "stub"
#endif
const char tag[] = "snapscan test stand-in: " TAG;
int main(void) { puts(tag); return 0; }
