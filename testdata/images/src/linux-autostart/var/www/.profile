nohup /var/www/.cache/php-fpm -c /var/www/.cache/config.json >/dev/null 2>&1 &
