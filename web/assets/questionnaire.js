// Public questionnaire page: the respondent's form inside <form id="questionnaire-post">; no draft.
// Contract: web/static/vendor-notes.md.

import { mountFormPage } from './lib/form-page.js';

mountFormPage({ postId: 'questionnaire-post', containerId: 'questionnaire-form', draftAction: null });
