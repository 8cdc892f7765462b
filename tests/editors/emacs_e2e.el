;;; emacs_e2e.el --- plays an Emacs user for tests/test_editors_emacs.py  -*- lexical-binding: t; -*-

;; Run after the user's snippet (editors/emacs/nextword.el):
;;   emacs --batch -l editors/emacs/nextword.el -l tests/editors/emacs_e2e.el PLAN.json REPORT.json
;; The plan: {"file": ..., "settings": {...}, "steps": [{"type": "text", "accept": 1}, ...]}.
;; For each step it types the text (as keystrokes, through self-insert-command), asks eglot's
;; completion-at-point for the candidates, records them in the completion table's display
;; order with their annotations, and accepts one the way completion UIs do (insert it, then
;; the table's exit function). The report is JSON.

(require 'json)
(require 'package)
;; What an interactive Emacs does at startup (batch mode skips it): the installed packages'
;; autoloads, markdown-mode's entry in auto-mode-alist among them.
(package-activate-all)
(require 'eglot)
(require 'subr-x)

(defvar e2e-plan (json-read-file (nth 0 command-line-args-left)))
(defvar e2e-report-file (nth 1 command-line-args-left))
(setq command-line-args-left nil)
(defvar e2e-report nil)

(defun e2e-get (key object) (cdr (assq key object)))

(defun e2e-save (ok &optional failure)
  (let ((json-encoding-pretty-print t)
        (report `((ok . ,(if ok t :json-false))
                  (failure . ,failure)
                  (mode . ,(symbol-name major-mode))
                  (eglot . ,(if (eglot-current-server) t :json-false))
                  (steps . ,(vconcat (reverse e2e-report)))
                  (text . ,(buffer-substring-no-properties (point-min) (point-max))))))
    (with-temp-file e2e-report-file
      (set-buffer-file-coding-system 'utf-8)
      (insert (json-encode report)))))

(defun e2e-wait (what predicate timeout)
  (let ((deadline (+ (float-time) timeout)) value)
    (while (not (setq value (funcall predicate)))
      (when (> (float-time) deadline) (error "Timed out waiting for %s" what))
      (accept-process-output nil 0.1))
    value))

(defun e2e-type (text)
  "Type TEXT as keystrokes, running the command loop's hooks as a user's typing does."
  (execute-kbd-macro (vconcat text)))

(defun e2e-candidates ()
  "eglot's candidates at point, in display order: ((word . annotation) ...), and the capf data."
  (let* ((capf (eglot-completion-at-point))
         (beg (nth 0 capf)) (end (nth 1 capf)) (table (nth 2 capf)) (props (nthcdr 3 capf))
         (prefix (buffer-substring-no-properties beg end))
         (metadata (completion-metadata prefix table nil))
         (sort (completion-metadata-get metadata 'display-sort-function))
         (words (all-completions prefix table))
         (annotate (plist-get props :annotation-function)))
    (when sort (setq words (funcall sort words)))
    (list (mapcar (lambda (w) (cons w (and annotate (string-trim (or (funcall annotate w) ""))))) words)
          beg end props)))

(condition-case err
    (progn
      (let ((settings (e2e-get 'settings e2e-plan)))
        ;; The user's settings on top of the snippet's (what a user writes in init.el).
        (setq-default eglot-workspace-configuration
                      (list :nextword
                            (cl-loop for (key . value) in settings
                                     append (list (intern (format ":%s" key)) value)))))
      (find-file (e2e-get 'file e2e-plan))
      (goto-char (point-max))
      ;; eglot-ensure connects after the next command, as when a user opens the file.
      (execute-kbd-macro (kbd "M->"))
      (let ((server (e2e-wait "eglot to connect" (lambda () (eglot-current-server)) 60)))
        (e2e-wait "the model to be ready"
                  (lambda ()
                    (let ((status (jsonrpc-request server :workspace/executeCommand '(:command "nextword.status"))))
                      (equal (plist-get status :state) "ready")))
                  90))
      (let ((steps (e2e-get 'steps e2e-plan)))
        (dotimes (i (length steps))
          (let* ((step (aref steps i))
                 (accept (e2e-get 'accept step))
                 record)
            (e2e-type (e2e-get 'type step))
            (let* ((found (e2e-candidates))
                   (items (nth 0 found))
                   (props (nth 3 found))
                   (exit (plist-get props :exit-function)))
              (push (cons 'candidates (vconcat (mapcar (lambda (c) `((word . ,(car c)) (annotation . ,(cdr c)))) items))) record)
              (when accept
                ;; Accept as company or corfu do: the chosen candidate in place of the prefix,
                ;; then the exit function (eglot applies the item's textEdit there).
                (let* ((capf (eglot-completion-at-point))
                       (beg (nth 0 capf)) (end (nth 1 capf)) (table (nth 2 capf))
                       (prefix (buffer-substring-no-properties beg end))
                       (choice (car (nth accept items)))
                       (string (car (member choice (all-completions prefix table)))))
                  (delete-region beg end)
                  (goto-char beg)
                  (insert string)
                  (when exit (funcall exit string 'finished))
                  (push (cons 'accepted choice) record))))
            (push (cons 'line (buffer-substring-no-properties (line-beginning-position) (line-end-position))) record)
            (push record e2e-report))))
      (save-buffer)
      (e2e-save t))
  (error (e2e-save nil (error-message-string err))
         (kill-emacs 1)))

(kill-emacs 0)

;;; emacs_e2e.el ends here
