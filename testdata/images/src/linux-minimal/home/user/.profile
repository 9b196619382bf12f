# ~/.profile: executed by the command interpreter for login shells.
if [ -d "$HOME/bin" ] ; then
    PATH="$HOME/bin:$PATH"
fi
