/* A harmless stand-in for a kernel module, for the linux-privesc test image:
 * compiled with gcc -c it is an ELF relocatable object, like a .ko, carrying
 * the names the rootkit rules look for (-DDIAMORPHINE) or an ordinary
 * driver's (-DDRIVER=name). It is not a kernel module: it has no
 * init_module, builds against no kernel and does nothing. */
#ifdef DIAMORPHINE
/* Names of m0nad/Diamorphine's hooks and magic prefix. */
const char magic_prefix[] = "diamorphine_secret";
__attribute__((section(".modinfo"))) const char modinfo_name[] = "name=diamorphine";
int is_invisible(int pid) { return pid == 0; }
void give_root(void) {}
void module_show(void) {}
void module_hide(void) {}
long hacked_kill(const void *regs) { return regs == 0; }
long hacked_getdents64(const void *regs) { return regs == 0; }
#else
#ifndef DRIVER
#define DRIVER "e1000"
#endif
__attribute__((section(".modinfo"))) const char modinfo_name[] = "name=" DRIVER;
__attribute__((section(".modinfo"))) const char modinfo_license[] = "license=GPL";
int driver_probe(void *dev) { return dev == 0; }
void driver_remove(void *dev) { (void)dev; }
#endif
