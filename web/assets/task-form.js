// Task page: the form-js form of a user task inside <form id="task-form-post">.
// Contract: web/static/vendor-notes.md.

import { mountFormPage } from './lib/form-page.js';

mountFormPage({ postId: 'task-form-post', containerId: 'task-form', draftAction: 'draft' });
