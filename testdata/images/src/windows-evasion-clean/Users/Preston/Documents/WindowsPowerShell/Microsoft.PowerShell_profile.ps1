# Preston's own profile
Set-Location C:\Projects
Import-Module posh-git
$env:PATH += ";C:\tools\bin"
function ll { Get-ChildItem -Force @args }
