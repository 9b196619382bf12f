/* what a Diamorphine build leaves behind (written for snapscan's tests) */
#define MAGIC_PREFIX "diamorphine_secret"
#define MODULE_NAME "diamorphine"
enum { SIGINVIS = 31, SIGSUPER = 64, SIGMODINVIS = 63 };
asmlinkage int hacked_getdents64(const struct pt_regs *regs);
unsigned long *__sys_call_table;
