# set history size
HISTSIZE=1000
