export PATH
