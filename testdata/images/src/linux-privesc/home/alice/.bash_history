ls -la
sudo systemctl restart nginx
