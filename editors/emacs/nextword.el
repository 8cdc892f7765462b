;;; nextword.el --- nextword's suggestions in Emacs through eglot  -*- lexical-binding: t; -*-

;; Add this to your init.el (or load it from there). Emacs 29+ has eglot built in; on Emacs 28,
;; M-x package-install RET eglot RET (or Debian's `apt install elpa-eglot`).
;; Complete with C-M-i (completion-at-point), or let company-mode / corfu pop up the words.

(require 'eglot)

(add-to-list 'eglot-server-programs
             '((markdown-mode gfm-mode text-mode) . ("nextword" "serve")))

;; nextword's settings (all optional; these are the defaults). If you configure other servers
;; here too, add the :nextword section to your own value instead.
(setq-default eglot-workspace-configuration
              '(:nextword (:modelPath "" :maxItems 10 :minProbability 0.75)))

(defun nextword-eglot-ensure ()
  "Start nextword in Markdown and plain-text buffers that visit a file."
  (when (memq major-mode '(markdown-mode gfm-mode text-mode))
    (eglot-ensure)))

;; markdown-mode derives from text-mode, so this hook covers both.
(add-hook 'text-mode-hook #'nextword-eglot-ensure)

;;; nextword.el ends here
