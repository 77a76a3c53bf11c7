<?php
// A small guestbook: SQLite through PDO, a form POST, a redirect after the post.
// Served by sfpm (PHP in-process) behind nginx: `make run`.

declare(strict_types=1);

$db = new PDO('sqlite:' . (getenv('APP_DB') ?: __DIR__ . '/../data/guestbook.sqlite'));
$db->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$db->exec('CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL
)');

$error = '';
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $name = trim((string)($_POST['name'] ?? ''));
    $message = trim((string)($_POST['message'] ?? ''));
    if ($name === '' || $message === '') {
        http_response_code(422);
        $error = 'Please give a name and a message.';
    } elseif (mb_strlen($name) > 80 || mb_strlen($message) > 2000) {
        http_response_code(422);
        $error = 'That is too long.';
    } else {
        $insert = $db->prepare('INSERT INTO entries (name, message, created_at) VALUES (?, ?, ?)');
        $insert->execute([$name, $message, gmdate('Y-m-d H:i:s')]);
        header('Location: /', true, 303);
        exit;
    }
}

$entries = $db->query('SELECT name, message, created_at FROM entries ORDER BY id DESC LIMIT 50')->fetchAll(PDO::FETCH_ASSOC);
$count = (int)$db->query('SELECT COUNT(*) FROM entries')->fetchColumn();
$opcache = function_exists('opcache_get_status') && is_array(opcache_get_status(false));

function e(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_HTML5, 'UTF-8');
}
?>
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sfpm guestbook</title>
<style>
body { font-family: sans-serif; max-width: 40em; margin: 2em auto; color: #222; }
form { display: grid; gap: .5em; margin-bottom: 2em; }
.error { color: #a00; }
.entry { border-top: 1px solid #ddd; padding: .5em 0; }
.meta { color: #666; font-size: .85em; }
</style>
</head>
<body>
<h1>Guestbook</h1>
<p class="meta">PHP <?= e(PHP_VERSION) ?> as <?= e(php_sapi_name()) ?>, worker pid <?= getmypid() ?>,
opcache <?= $opcache ? 'on' : 'off' ?>, <?= $count ?> entries.</p>
<?php if ($error !== ''): ?><p class="error"><?= e($error) ?></p><?php endif; ?>
<form method="post" action="/">
<label>Name <input name="name" maxlength="80" required></label>
<label>Message <textarea name="message" rows="3" maxlength="2000" required></textarea></label>
<button type="submit">Sign</button>
</form>
<?php foreach ($entries as $entry): ?>
<div class="entry"><strong><?= e($entry['name']) ?></strong>
<span class="meta"><?= e($entry['created_at']) ?> UTC</span>
<p><?= nl2br(e($entry['message'])) ?></p></div>
<?php endforeach; ?>
</body>
</html>
