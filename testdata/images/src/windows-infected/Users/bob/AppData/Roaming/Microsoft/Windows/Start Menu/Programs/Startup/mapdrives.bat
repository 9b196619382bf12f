@echo off
net use Z: \\fileserver\projects /persistent:no
